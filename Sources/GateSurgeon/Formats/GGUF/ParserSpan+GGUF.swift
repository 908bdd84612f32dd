// GGUF reads on the ParserSpan layer: a ParsingError becomes the GGUF error
// that says what was being read; strings are u64-length-prefixed UTF-8.

extension ParserSpan {
    /// Runs a read, turning a ParsingError into the GGUF error for `what`.
    mutating func gguf<T>(
        _ what: @autoclosure () -> String, _ read: (inout ParserSpan) throws(ParsingError) -> T
    ) throws(GGUFError) -> T {
        do {
            return try read(&self)
        } catch {
            throw GGUFError(error, reading: what())
        }
    }

    /// Reads a GGUF string: a u64 byte count, checked against the bytes
    /// left, then that many bytes of UTF-8.
    mutating func readGGUFString(_ what: @autoclosure () -> String) throws(GGUFError) -> String {
        let length = try readGGUFStringLength(what())
        return try gguf(what()) { (input) throws(ParsingError) in try input.readUTF8(byteCount: length) }
    }

    /// Reads a GGUF string's length and checks that many bytes are left.
    mutating func readGGUFStringLength(_ what: @autoclosure () -> String) throws(GGUFError) -> Int {
        let lengthOffset = startPosition
        let length = try gguf("the length of \(what())") { (input) throws(ParsingError) in
            try input.read(UInt64.self, endianness: .little)
        }
        guard length <= UInt64(count) else {
            throw .countTooLarge(path: source, offset: lengthOffset, what: "length of \(what())", count: length, limit: count)
        }
        return Int(length)
    }
}
