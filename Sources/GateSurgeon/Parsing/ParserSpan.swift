/// A forward reader over borrowed, untrusted bytes.
///
/// Every read checks the bounds first and loads unaligned, in the byte order
/// the caller names, so no input can make it read outside its bytes. Positions
/// are absolute: a span over a whole file starts at 0, and a sub-parser cut
/// off with `sliced(byteCount:)` keeps the file's positions, so every
/// `ParsingError` says where in the file the problem is.
///
/// A span borrows memory it does not own. It exists only inside the closure
/// that creates it (`MappedFile.withParserSpan`, `withParserSpan(over:)`):
/// do not store it or return it from that closure (the same rule as for
/// the buffer of `withUnsafeBytes`).
///
///     let header = try file.withParserSpan { (input) throws(GGUFError) in
///         try GGUFHeader(parsing: &input)
///     }
///
/// Modeled on `ParserSpan` of apple/swift-binary-parsing, without
/// `~Escapable` (which needs experimental compiler features).
public struct ParserSpan {
    /// Address of absolute position `origin`.
    private let base: UnsafeRawPointer?
    /// Absolute position of `base`; seeking back stops here.
    private let origin: Int
    /// Absolute position of the next byte to read.
    public private(set) var startPosition: Int
    /// Absolute position one past the last readable byte.
    public private(set) var endPosition: Int
    /// What errors name as the place of the bytes (a file path).
    public let source: String

    /// A span over `bytes`, whose first byte is at absolute position
    /// `startPosition`. Prefer the scoped creators (`withParserSpan`).
    public init(unsafeBytes bytes: UnsafeRawBufferPointer, startPosition: Int = 0, source: String = "") {
        base = bytes.baseAddress
        origin = startPosition
        self.startPosition = startPosition
        endPosition = startPosition + bytes.count
        self.source = source
    }

    /// Bytes left to read.
    public var count: Int { endPosition - startPosition }
    public var isEmpty: Bool { startPosition == endPosition }
    /// The absolute positions left to read.
    public var range: Range<Int> { startPosition..<endPosition }

    /// An error at the current position (or at `position`).
    public func error(_ status: ParsingError.Status, at position: Int? = nil) -> ParsingError {
        ParsingError(status, at: position ?? startPosition, in: source)
    }

    /// Checks that `byteCount` bytes are left and returns it as an `Int`.
    private func checkedCount(_ byteCount: some FixedWidthInteger) throws(ParsingError) -> Int {
        guard byteCount >= 0 else { throw error(.invalidValue("negative byte count \(byteCount)")) }
        guard let count = Int(exactly: byteCount), count <= self.count else {
            throw error(.insufficientData(needed: UInt64(byteCount), end: endPosition))
        }
        return count
    }

    /// Address of absolute position `position`, which lies in the span.
    private func address(_ position: Int) -> UnsafeRawPointer {
        base.unsafelyUnwrapped + (position - origin)
    }

    /// Moves past `byteCount` bytes.
    public mutating func skip(byteCount: some FixedWidthInteger) throws(ParsingError) {
        startPosition += try checkedCount(byteCount)
    }

    /// Moves to the absolute position `position`, which must lie between the
    /// start of the original span and its end (seeking back is allowed).
    public mutating func seek(toAbsolutePosition position: Int) throws(ParsingError) {
        guard position >= origin, position <= endPosition else {
            throw error(.invalidValue("position \(position) outside \(origin)..<\(endPosition)"))
        }
        startPosition = position
    }

    /// The next `byteCount` bytes as a sub-parser with the same absolute
    /// positions; this span moves past them.
    /// - Complexity: O(1).
    public mutating func sliced(byteCount: some FixedWidthInteger) throws(ParsingError) -> ParserSpan {
        let count = try checkedCount(byteCount)
        var slice = self
        slice.endPosition = startPosition + count
        startPosition += count
        return slice
    }

    /// The next `objectCount * objectStride` bytes as a sub-parser; the
    /// product is overflow-checked before anything is read.
    public mutating func sliced(objectStride: Int, objectCount: some FixedWidthInteger) throws(ParsingError) -> ParserSpan {
        guard objectStride >= 0, let count = Int(exactly: objectCount), count >= 0, let bytes = count *? objectStride else {
            throw error(.overflow)
        }
        return try sliced(byteCount: bytes)
    }

    /// Cuts off the next `byteCount` bytes and returns their absolute range,
    /// for parsing later (`MappedFile.withParserSpan(in:)`).
    public mutating func sliceRange(byteCount: some FixedWidthInteger) throws(ParsingError) -> Range<Int> {
        try sliced(byteCount: byteCount).range
    }

    /// The next `byteCount` bytes, copied.
    public mutating func readBytes(byteCount: some FixedWidthInteger) throws(ParsingError) -> [UInt8] {
        try sliced(byteCount: byteCount).withUnsafeBytes { Array($0) }
    }

    /// Calls `body` with the bytes left, without moving. The buffer is valid
    /// only inside `body`.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: isEmpty ? nil : address(startPosition), count: count))
    }

    /// Runs `body` on a copy of this span and keeps its progress only when
    /// it does not throw.
    public mutating func atomically<R, E: Error>(_ body: (inout ParserSpan) throws(E) -> R) throws(E) -> R {
        var copy = self
        let result = try body(&copy)
        self = copy
        return result
    }

    /// Loads a `T` from the next `MemoryLayout<T>.size` bytes, unaligned.
    mutating func loadUnaligned<T: BitwiseCopyable>(_ type: T.Type) throws(ParsingError) -> T {
        let size = MemoryLayout<T>.size
        guard size <= count else { throw error(.insufficientData(needed: UInt64(size), end: endPosition)) }
        let value = address(startPosition).loadUnaligned(as: T.self)
        startPosition += size
        return value
    }
}

/// Calls `body` with a span over `bytes` (positions from 0).
public func withParserSpan<R, E: Error>(
    over bytes: [UInt8], source: String = "", _ body: (inout ParserSpan) throws(E) -> R
) throws(E) -> R {
    // withUnsafeBytes rethrows untyped; carry the typed error through a Result.
    let result: Result<R, E> = bytes.withUnsafeBytes { raw in
        var span = ParserSpan(unsafeBytes: raw, source: source)
        do throws(E) {
            return .success(try body(&span))
        } catch {
            return .failure(error)
        }
    }
    return try result.get()
}
