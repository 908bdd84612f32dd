/// Why parsing untrusted bytes stopped, and where.
///
/// `location` is always the absolute byte position in the file or buffer the
/// parse started from, also inside sliced sub-parsers, so a message can tell a
/// user exactly where to look.
public struct ParsingError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Status: Sendable, Equatable {
        /// `needed` bytes were asked for at `location`, but the data ends at byte `end`.
        case insufficientData(needed: UInt64, end: Int)
        /// A value read at `location` does not fit the type it must become,
        /// or arithmetic on it overflows.
        case overflow
        /// The bytes at `location` are not well-formed UTF-8.
        case invalidUTF8
        /// Some other rule was broken; `reason` says which.
        case invalidValue(String)
    }

    public var status: Status
    /// Absolute byte position where the offending read began.
    public var location: Int
    /// The file (or other buffer) being parsed, as named when the parse started.
    public var source: String

    public init(_ status: Status, at location: Int, in source: String) {
        self.status = status
        self.location = location
        self.source = source
    }

    /// The problem and its position, without the source.
    public var problem: String {
        switch status {
        case .insufficientData(let needed, let end):
            "needs \(needed) bytes at byte \(location), but the data ends at byte \(end)"
        case .overflow:
            "value at byte \(location) overflows"
        case .invalidUTF8:
            "bytes at byte \(location) are not valid UTF-8"
        case .invalidValue(let reason):
            "\(reason) at byte \(location)"
        }
    }

    public var description: String {
        source.isEmpty ? problem : "\(source): \(problem)"
    }
}
