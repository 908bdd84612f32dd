/// Why elements could not be converted.
public enum NumericsError: Error, Sendable, CustomStringConvertible {
    case unsupported(DType, operation: String)
    case notWholeBlocks(DType, count: Int)

    public var description: String {
        switch self {
        case .unsupported(let dtype, let operation): "\(operation) \(dtype) is not supported"
        case .notWholeBlocks(let dtype, let count):
            "\(count) elements are not a whole number of \(dtype) blocks of \(dtype.blockSize)"
        }
    }
}

/// What a narrowing conversion lost, so it is reported, never silent.
public struct ConversionReport: Sendable, Equatable {
    /// Finite inputs that became infinite (F32 beyond 65504 into F16).
    public var overflowed = 0
    public init() {}
    public static func += (lhs: inout ConversionReport, rhs: ConversionReport) {
        lhs.overflowed += rhs.overflowed
    }
}

/// Conversion between stored element types and F32, the one entry point
/// the rest of the library uses for numerics.
public enum ElementConversion {
    /// Types `decode` reads.
    public static func canDecode(_ dtype: DType) -> Bool {
        switch dtype {
        case .f32, .f16, .bf16, .f64, .i8, .i16, .i32, .i64, .u8, .u16, .u32, .u64, .bool: true
        default: false
        }
    }

    /// Types `encode` writes.
    public static func canEncode(_ dtype: DType) -> Bool {
        switch dtype {
        case .f32, .f16, .bf16: true
        default: false
        }
    }

    /// Decodes `destination.count` elements stored as `dtype` in `source` to F32.
    public static func decode(
        _ source: UnsafeRawBufferPointer, as dtype: DType, into destination: UnsafeMutableBufferPointer<Float>
    ) throws(NumericsError) {
        let count = destination.count
        switch dtype {
        case .f32:
            for i in 0..<count { destination[i] = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self))) }
        case .f16:
            for i in 0..<count { destination[i] = Float(Float16(bitPattern: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self)))) }
        case .bf16:
            for i in 0..<count { destination[i] = Float(bitPattern: UInt32(UInt16(littleEndian: source.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))) << 16) }
        case .f64:
            for i in 0..<count { destination[i] = Float(Double(bitPattern: UInt64(littleEndian: source.loadUnaligned(fromByteOffset: i &* 8, as: UInt64.self)))) }
        case .i8: for i in 0..<count { destination[i] = Float(Int8(bitPattern: source[i])) }
        case .u8, .bool: for i in 0..<count { destination[i] = Float(source[i]) }
        case .i16: for i in 0..<count { destination[i] = Float(Int16(littleEndian: source.loadUnaligned(fromByteOffset: i &* 2, as: Int16.self))) }
        case .u16: for i in 0..<count { destination[i] = Float(UInt16(littleEndian: source.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))) }
        case .i32: for i in 0..<count { destination[i] = Float(Int32(littleEndian: source.loadUnaligned(fromByteOffset: i &* 4, as: Int32.self))) }
        case .u32: for i in 0..<count { destination[i] = Float(UInt32(littleEndian: source.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self))) }
        case .i64: for i in 0..<count { destination[i] = Float(Int64(littleEndian: source.loadUnaligned(fromByteOffset: i &* 8, as: Int64.self))) }
        case .u64: for i in 0..<count { destination[i] = Float(UInt64(littleEndian: source.loadUnaligned(fromByteOffset: i &* 8, as: UInt64.self))) }
        default:
            throw .unsupported(dtype, operation: "decoding")
        }
    }

    /// Encodes F32 values as `dtype` into `destination`, which must hold
    /// `dtype.byteCount(elements: source.count)` bytes. `rowLength` is the
    /// length of the rows block types quantize along.
    @discardableResult
    public static func encode(
        _ source: UnsafeBufferPointer<Float>, as dtype: DType, into destination: UnsafeMutableRawBufferPointer,
        rowLength: Int
    ) throws(NumericsError) -> ConversionReport {
        var report = ConversionReport()
        switch dtype {
        case .f32:
            for i in 0..<source.count { destination.storeBytes(of: source[i].bitPattern.littleEndian, toByteOffset: i &* 4, as: UInt32.self) }
        case .f16:
            for i in 0..<source.count {
                let half = Float16(source[i])
                if half.isInfinite && source[i].isFinite { report.overflowed += 1 }
                destination.storeBytes(of: half.bitPattern.littleEndian, toByteOffset: i &* 2, as: UInt16.self)
            }
        case .bf16:
            for i in 0..<source.count {
                let bits = source[i].bitPattern
                let rounded: UInt16
                if source[i].isNaN {
                    rounded = UInt16(bits >> 16) | 0x40
                } else {
                    rounded = UInt16((bits &+ 0x7fff &+ ((bits >> 16) & 1)) >> 16)
                }
                destination.storeBytes(of: rounded.littleEndian, toByteOffset: i &* 2, as: UInt16.self)
            }
        default:
            throw .unsupported(dtype, operation: "encoding to")
        }
        return report
    }
}
