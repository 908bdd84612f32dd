// Reads of numbers: fixed-width integers and floats in a named byte order,
// and LEB128 varints (protobuf).

extension ParserSpan {
    /// Reads a fixed-width integer stored in `endianness` byte order.
    public mutating func read<T: FixedWidthInteger & BitwiseCopyable>(
        _ type: T.Type, endianness: Endianness
    ) throws(ParsingError) -> T {
        let raw = try loadUnaligned(T.self)
        return endianness == .little ? T(littleEndian: raw) : T(bigEndian: raw)
    }

    /// Reads one byte.
    public mutating func read(_ type: UInt8.Type) throws(ParsingError) -> UInt8 {
        try loadUnaligned(UInt8.self)
    }

    /// Reads one byte as a signed value.
    public mutating func read(_ type: Int8.Type) throws(ParsingError) -> Int8 {
        try loadUnaligned(Int8.self)
    }

    /// Reads an IEEE 754 binary32 value stored in `endianness` byte order.
    public mutating func read(_ type: Float.Type, endianness: Endianness) throws(ParsingError) -> Float {
        Float(bitPattern: try read(UInt32.self, endianness: endianness))
    }

    /// Reads an IEEE 754 binary64 value stored in `endianness` byte order.
    public mutating func read(_ type: Double.Type, endianness: Endianness) throws(ParsingError) -> Double {
        Double(bitPattern: try read(UInt64.self, endianness: endianness))
    }

    /// Reads an unsigned LEB128 varint (protobuf's base-128 varint): seven
    /// bits per byte, least significant group first, high bit set on every
    /// byte but the last. At most 10 bytes; bits beyond 64 are an error.
    public mutating func readLEB128() throws(ParsingError) -> UInt64 {
        let start = startPosition
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard !isEmpty else { throw error(.insufficientData(needed: 1, end: endPosition)) }
            let byte = try read(UInt8.self)
            let group = UInt64(byte & 0x7F)
            if shift == 63 && group > 1 { throw error(.invalidValue("varint longer than 64 bits"), at: start) }
            value |= group << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
            if shift > 63 { throw error(.invalidValue("varint longer than 64 bits"), at: start) }
        }
    }

    /// Reads a LEB128 length, then cuts off that many bytes as a sub-parser
    /// (a protobuf length-delimited field).
    public mutating func slicedLEB128Prefixed() throws(ParsingError) -> ParserSpan {
        let start = startPosition
        let length = try readLEB128()
        guard length <= UInt64(count) else {
            throw error(.insufficientData(needed: length, end: endPosition), at: start)
        }
        return try sliced(byteCount: length)
    }
}

extension Int64 {
    /// The signed value of a protobuf zigzag-encoded varint (`sint64`).
    public init(zigZag encoded: UInt64) {
        self = Int64(bitPattern: encoded >> 1) ^ -Int64(bitPattern: encoded & 1)
    }
}
