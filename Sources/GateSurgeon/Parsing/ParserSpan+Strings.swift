// Reads of text: validated UTF-8, optionally after a length prefix.

extension ParserSpan {
    /// The next `byteCount` bytes as a string; they must be well-formed UTF-8.
    /// - Throws: `.invalidUTF8` located at the first byte of the string.
    public mutating func readUTF8(byteCount: some FixedWidthInteger) throws(ParsingError) -> String {
        let start = startPosition
        let text = try sliced(byteCount: byteCount).withUnsafeBytes { bytes in
            UTF8Validation.isValid(bytes) ? String(decoding: bytes, as: UTF8.self) : nil
        }
        guard let text else { throw error(.invalidUTF8, at: start) }
        return text
    }

    /// Reads a length of type `L`, then that many bytes of UTF-8. The length
    /// is checked against the bytes left before anything is allocated.
    public mutating func readLengthPrefixedUTF8<L: FixedWidthInteger & BitwiseCopyable>(
        lengthType: L.Type, endianness: Endianness
    ) throws(ParsingError) -> String {
        let start = startPosition
        let length = try read(L.self, endianness: endianness)
        guard length >= 0, UInt64(length) <= UInt64(count) else {
            throw error(.insufficientData(needed: length >= 0 ? UInt64(length) : 0, end: endPosition), at: start)
        }
        return try readUTF8(byteCount: length)
    }

    /// Moves past `byteCount` bytes after checking they are well-formed UTF-8,
    /// without building a string.
    public mutating func skipUTF8(byteCount: some FixedWidthInteger) throws(ParsingError) {
        let start = startPosition
        let valid = try sliced(byteCount: byteCount).withUnsafeBytes { UTF8Validation.isValid($0) }
        guard valid else { throw error(.invalidUTF8, at: start) }
    }
}
