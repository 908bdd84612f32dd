/// A forward reader over untrusted bytes: every read checks bounds first and
/// loads unaligned little-endian values, so no header can make it read
/// outside the buffer.
public struct ByteCursor {
    public let bytes: UnsafeRawBufferPointer
    /// Offset of the next byte to read.
    public private(set) var offset: Int

    public init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    public var remaining: Int { bytes.count - offset }

    /// Why a read failed: it needed `needed` bytes at `offset`.
    public struct OutOfBounds: Error, Sendable {
        public var offset: Int
        public var needed: Int
    }

    private mutating func advance(by count: Int) throws(OutOfBounds) -> Int {
        guard count >= 0, count <= remaining else { throw OutOfBounds(offset: offset, needed: count) }
        let start = offset
        offset += count
        return start
    }

    public mutating func readUInt8() throws(OutOfBounds) -> UInt8 {
        bytes[try advance(by: 1)]
    }

    public mutating func readUInt16LE() throws(OutOfBounds) -> UInt16 {
        UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: try advance(by: 2), as: UInt16.self))
    }

    public mutating func readUInt32LE() throws(OutOfBounds) -> UInt32 {
        UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: try advance(by: 4), as: UInt32.self))
    }

    public mutating func readUInt64LE() throws(OutOfBounds) -> UInt64 {
        UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: try advance(by: 8), as: UInt64.self))
    }

    public mutating func readInt8() throws(OutOfBounds) -> Int8 { Int8(bitPattern: try readUInt8()) }
    public mutating func readInt16LE() throws(OutOfBounds) -> Int16 { Int16(bitPattern: try readUInt16LE()) }
    public mutating func readInt32LE() throws(OutOfBounds) -> Int32 { Int32(bitPattern: try readUInt32LE()) }
    public mutating func readInt64LE() throws(OutOfBounds) -> Int64 { Int64(bitPattern: try readUInt64LE()) }
    public mutating func readFloat32LE() throws(OutOfBounds) -> Float { Float(bitPattern: try readUInt32LE()) }
    public mutating func readFloat64LE() throws(OutOfBounds) -> Double { Double(bitPattern: try readUInt64LE()) }

    /// The next `count` bytes, as a slice of the underlying buffer.
    public mutating func readBytes(_ count: Int) throws(OutOfBounds) -> UnsafeRawBufferPointer {
        let start = try advance(by: count)
        return UnsafeRawBufferPointer(rebasing: bytes[start..<(start + count)])
    }

    public mutating func skip(_ count: Int) throws(OutOfBounds) {
        _ = try advance(by: count)
    }
}
