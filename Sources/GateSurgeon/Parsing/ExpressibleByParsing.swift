/// A type read from untrusted bytes by one `init(parsing:)` step.
///
/// Formats build their readers from such steps (a GGUF header, a tensor
/// info), each consuming exactly its bytes from the span and throwing an
/// error that names the file and the absolute byte position.
public protocol ExpressibleByParsing {
    /// What parsing throws: `ParsingError`, or a format's own error type.
    associatedtype ParsingFailure: Error = ParsingError

    /// Reads a value from the start of `input`, moving `input` past it.
    init(parsing input: inout ParserSpan) throws(ParsingFailure)
}

extension ExpressibleByParsing {
    /// Reads a value from the start of `bytes`.
    public init(parsing bytes: [UInt8], source: String = "") throws(ParsingFailure) {
        self = try withParserSpan(over: bytes, source: source) { (input) throws(ParsingFailure) in
            try Self(parsing: &input)
        }
    }
}
