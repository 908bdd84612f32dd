/// A destination for binary values: the writing counterpart of `ParserSpan`.
///
/// Conforming types supply `write(_: UnsafeRawBufferPointer)`; integers,
/// floats, strings with a length prefix and LEB128 varints are built on it,
/// each in the byte order the call site names.
public protocol BinaryOutput: AnyObject {
    /// Appends `bytes`.
    func write(_ bytes: UnsafeRawBufferPointer) throws
}

/// Why a value cannot be written in the form asked for.
public enum BinaryOutputError: Error, Sendable, CustomStringConvertible {
    /// A length does not fit the type of its prefix.
    case lengthTooLarge(length: Int, lengthType: String)

    public var description: String {
        switch self {
        case .lengthTooLarge(let length, let lengthType):
            "length \(length) does not fit a \(lengthType) length prefix"
        }
    }
}

extension BinaryOutput {
    /// Writes a fixed-width integer in `endianness` byte order.
    public func write<T: FixedWidthInteger & BitwiseCopyable>(_ value: T, endianness: Endianness) throws {
        let stored = endianness == .little ? value.littleEndian : value.bigEndian
        try withUnsafeBytes(of: stored) { raw in try write(raw) }
    }

    /// Writes an IEEE 754 binary32 value in `endianness` byte order.
    public func write(_ value: Float, endianness: Endianness) throws {
        try write(value.bitPattern, endianness: endianness)
    }

    /// Writes an IEEE 754 binary64 value in `endianness` byte order.
    public func write(_ value: Double, endianness: Endianness) throws {
        try write(value.bitPattern, endianness: endianness)
    }

    /// Writes `bytes` as they are.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in try write(raw) }
    }

    /// Writes `count` zero bytes.
    public func writeZeros(_ count: Int) throws {
        guard count > 0 else { return }
        try write([UInt8](repeating: 0, count: count))
    }

    /// Writes the UTF-8 byte count of `text` as an `L`, then the bytes.
    public func writeLengthPrefixedUTF8<L: FixedWidthInteger & BitwiseCopyable>(
        _ text: String, lengthType: L.Type, endianness: Endianness
    ) throws {
        var text = text
        try text.withUTF8 { bytes in
            guard let length = L(exactly: bytes.count) else {
                throw BinaryOutputError.lengthTooLarge(length: bytes.count, lengthType: "\(L.self)")
            }
            try write(length, endianness: endianness)
            try write(UnsafeRawBufferPointer(bytes))
        }
    }

    /// Writes an unsigned LEB128 varint (protobuf's base-128 varint).
    public func writeLEB128(_ value: UInt64) throws {
        var bytes: [UInt8] = []
        var rest = value
        repeat {
            let group = UInt8(rest & 0x7F)
            rest >>= 7
            bytes.append(rest == 0 ? group : group | 0x80)
        } while rest != 0
        try write(bytes)
    }
}

/// A `BinaryOutput` that collects bytes in memory.
public final class ByteArrayOutput: BinaryOutput {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        self.bytes.append(contentsOf: bytes)
    }
}
