/// Why elements could not be converted.
public enum NumericsError: Error, Sendable, Equatable, CustomStringConvertible {
    case unsupported(DType, operation: String)
    case notWholeBlocks(DType, count: Int)
    /// A buffer's byte count does not match the element count (`needed` bytes, `actual` given).
    case byteCountMismatch(DType, elements: Int, needed: Int, actual: Int)
    /// The type needs an importance vector (ggml's `ggml_quantize_requires_imatrix`).
    case importanceRequired(DType)
    /// The importance is not one value per column for every row, or per
    /// column for each of a whole number of equal groups of rows.
    case importanceShape(values: Int, rowLength: Int, rows: Int)
    /// A value is NaN or infinite where the type's search needs finite values
    /// (`importance` tells whether it is in the importance or the data).
    case nonFinite(DType, index: Int, importance: Bool)

    public var description: String {
        switch self {
        case .unsupported(let dtype, let operation): "\(operation) \(dtype) is not supported"
        case .notWholeBlocks(let dtype, let count):
            "\(count) elements are not a whole number of \(dtype) blocks of \(dtype.blockSize)"
        case .byteCountMismatch(let dtype, let elements, let needed, let actual):
            "\(elements) \(dtype) elements take \(needed) bytes, the buffer has \(actual)"
        case .importanceRequired(let dtype): "quantizing to \(dtype) needs an importance matrix"
        case .importanceShape(let values, let rowLength, let rows):
            "\(values) importance values do not fit \(rows) rows of \(rowLength) (one per column, per group of rows)"
        case .nonFinite(let dtype, let index, let importance):
            "\(importance ? "importance" : "value") \(index) is not finite; \(dtype) needs finite \(importance ? "importance" : "values")"
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
///
/// The kernels behind it and the references they are bit-exact with:
/// F16/BF16 in `HalfPrecision` (torch casts), F8 in `Float8` (torch casts),
/// block types in `Dequantize` (ggml `dequantize_row_*`, gguf-py) and
/// `Quantize` (ggml `ggml_quantize_chunk`, with or without an importance
/// matrix). Large
/// conversions run on all cores (`DispatchQueue.concurrentPerform` over
/// chunks of elements or blocks).
public enum ElementConversion {
    /// Types `decode` reads.
    public static func canDecode(_ dtype: DType) -> Bool {
        switch dtype {
        case .f32, .f16, .bf16, .f64, .f8E4M3, .f8E5M2, .i8, .i16, .i32, .i64, .u8, .u16, .u32, .u64, .bool: true
        default: BlockQuantization.canDequantize(dtype)
        }
    }

    /// Types `encode` writes.
    public static func canEncode(_ dtype: DType) -> Bool {
        switch dtype {
        case .f32, .f16, .bf16, .f64, .f8E4M3, .f8E5M2: true
        default: BlockQuantization.canQuantize(dtype)
        }
    }

    /// Decodes `destination.count` elements stored as `dtype` in `source` to F32.
    ///
    /// F64 rounds to nearest even (values beyond F32's range become
    /// infinite, as in torch's `.to(torch.float32)`); the other floats are
    /// exact; block types must be whole blocks.
    /// - Complexity: O(`destination.count`), parallel for large inputs.
    public static func decode(
        _ source: UnsafeRawBufferPointer, as dtype: DType, into destination: UnsafeMutableBufferPointer<Float>
    ) throws(NumericsError) {
        var report = ConversionReport()
        try decode(source, as: dtype, into: destination, report: &report)
    }

    /// Decodes like `decode(_:as:into:)` and adds to `report` the F64
    /// values that overflowed to infinity.
    public static func decode(
        _ source: UnsafeRawBufferPointer, as dtype: DType, into destination: UnsafeMutableBufferPointer<Float>,
        report: inout ConversionReport
    ) throws(NumericsError) {
        let count = destination.count
        guard count % dtype.blockSize == 0 else { throw .notWholeBlocks(dtype, count: count) }
        guard let needed = dtype.byteCount(elements: count), source.count >= needed else {
            throw .byteCountMismatch(
                dtype, elements: count, needed: dtype.byteCount(elements: count) ?? Int.max, actual: source.count)
        }
        guard count > 0 else { return }
        let input = source.baseAddress!
        let output = destination.baseAddress!
        switch dtype {
        case .f32:
            ParallelChunks.forEach(count: count, grain: HalfPrecision.grain) { range in
                #if _endian(little)
                UnsafeMutableRawPointer(output + range.lowerBound).copyMemory(from: input + range.lowerBound &* 4, byteCount: range.count &* 4)
                #else
                for i in range {
                    output[i] = Float(bitPattern: UInt32(littleEndian: input.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self)))
                }
                #endif
            }
        case .f16: HalfPrecision.decodeFloat16(input, into: output, count: count)
        case .bf16: HalfPrecision.decodeBFloat16(input, into: output, count: count)
        case .f8E4M3: Float8.decode(input, e4m3: true, into: output, count: count)
        case .f8E5M2: Float8.decode(input, e4m3: false, into: output, count: count)
        case .f64:
            var overflowed = 0
            for i in 0..<count {
                let wide = Double(bitPattern: UInt64(littleEndian: input.loadUnaligned(fromByteOffset: i &* 8, as: UInt64.self)))
                let narrow = Float(wide)
                overflowed &+= (narrow.isInfinite && wide.isFinite) ? 1 : 0
                output[i] = narrow
            }
            report.overflowed += overflowed
        case .i8: for i in 0..<count { output[i] = Float(Int8(bitPattern: source[i])) }
        case .u8, .bool: for i in 0..<count { output[i] = Float(source[i]) }
        case .i16: for i in 0..<count { output[i] = Float(Int16(littleEndian: input.loadUnaligned(fromByteOffset: i &* 2, as: Int16.self))) }
        case .u16: for i in 0..<count { output[i] = Float(UInt16(littleEndian: input.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))) }
        case .i32: for i in 0..<count { output[i] = Float(Int32(littleEndian: input.loadUnaligned(fromByteOffset: i &* 4, as: Int32.self))) }
        case .u32: for i in 0..<count { output[i] = Float(UInt32(littleEndian: input.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self))) }
        case .i64: for i in 0..<count { output[i] = Float(Int64(littleEndian: input.loadUnaligned(fromByteOffset: i &* 8, as: Int64.self))) }
        case .u64: for i in 0..<count { output[i] = Float(UInt64(littleEndian: input.loadUnaligned(fromByteOffset: i &* 8, as: UInt64.self))) }
        default:
            guard BlockQuantization.canDequantize(dtype) else { throw .unsupported(dtype, operation: "decoding") }
            BlockQuantization.dequantize(input, as: dtype, into: output, blocks: count / dtype.blockSize)
        }
    }

    /// Whether `convert(_:from:to:into:)` turns `source` values into `target`
    /// values directly, without an F32 buffer between: F32 to F16 or BF16.
    public static func convertsDirectly(from source: DType, to target: DType) -> Bool {
        source == .f32 && (target == .f16 || target == .bf16)
    }

    /// Casts `count` little-endian F32 values in `source` (any alignment,
    /// e.g. a mapped file) to `target` in `destination`, bit for bit what
    /// decoding and `encode` give, in one pass over the bytes. Only for pairs
    /// where `convertsDirectly(from:to:)` holds.
    /// - Complexity: O(`count`), parallel for large inputs.
    public static func convert(
        _ source: UnsafeRawPointer, from sourceType: DType, to target: DType, count: Int, into destination: UnsafeMutableRawPointer
    ) -> ConversionReport {
        precondition(convertsDirectly(from: sourceType, to: target), "no direct conversion from \(sourceType) to \(target)")
        var report = ConversionReport()
        guard count > 0 else { return report }
        report.overflowed = target == .bf16
            ? HalfPrecision.encodeBFloat16(source, into: destination, count: count)
            : HalfPrecision.encodeFloat16(source, into: destination, count: count)
        return report
    }

    /// Encodes F32 values as `dtype` into `destination`, which must hold
    /// `dtype.byteCount(elements: source.count)` bytes. `rowLength` is the
    /// length of the rows block types quantize along; it must be a whole
    /// number of blocks and divide `source.count`.
    ///
    /// Floats round to nearest even (torch's casts); block types are
    /// byte-identical with `ggml_quantize_chunk(dtype, source, dst, 0, rows,
    /// rowLength, imatrix)`: without `importance` what llama-quantize writes
    /// without an importance matrix (the `quantize_row_*_ref` quantizers, and
    /// the searches of the IQ types), with it the importance-weighted paths.
    /// `importance` holds one value per column (used for every row) or one
    /// per column for each of `k` equal groups of rows (the experts of a 3-D
    /// tensor, in order); it is ignored for float types and Q8_0. IQ2_XXS,
    /// IQ2_XS and IQ1_S need it; the IQ1/IQ2/IQ3 types need finite values.
    /// The report counts finite values that became infinite (or, for
    /// F8_E4M3, which has no infinity, were clamped to ±448).
    /// - Complexity: O(`source.count`) (a constant factor more for the
    ///   scale searches of the K-quants and IQ types), parallel for large inputs.
    @discardableResult
    public static func encode(
        _ source: UnsafeBufferPointer<Float>, as dtype: DType, into destination: UnsafeMutableRawBufferPointer,
        rowLength: Int, importance: UnsafeBufferPointer<Float>? = nil
    ) throws(NumericsError) -> ConversionReport {
        var report = ConversionReport()
        let count = source.count
        if dtype.isQuantized {
            guard BlockQuantization.canQuantize(dtype) else { throw .unsupported(dtype, operation: "encoding to") }
            guard rowLength > 0, rowLength % dtype.blockSize == 0, count % rowLength == 0 else {
                throw .notWholeBlocks(dtype, count: rowLength)
            }
            if importance == nil && BlockQuantization.requiresImportance(dtype) { throw .importanceRequired(dtype) }
            if let importance {
                let rows = count / rowLength
                let groups = importance.count / rowLength
                guard importance.count % rowLength == 0, groups > 0, rows % groups == 0 else {
                    throw .importanceShape(values: importance.count, rowLength: rowLength, rows: rows)
                }
                if let bad = importance.firstIndex(where: { !$0.isFinite }) {
                    throw .nonFinite(dtype, index: bad, importance: true)
                }
            }
            if BlockQuantization.needsFiniteInput(dtype), let bad = source.firstIndex(where: { !$0.isFinite }) {
                throw .nonFinite(dtype, index: bad, importance: false)
            }
        }
        guard let needed = dtype.byteCount(elements: count), destination.count >= needed else {
            throw .byteCountMismatch(
                dtype, elements: count, needed: dtype.byteCount(elements: count) ?? Int.max, actual: destination.count)
        }
        guard count > 0 else { return report }
        let input = source.baseAddress!
        let output = destination.baseAddress!
        switch dtype {
        case .f32:
            #if _endian(little)
            output.copyMemory(from: input, byteCount: count &* 4)
            #else
            for i in 0..<count { output.storeBytes(of: input[i].bitPattern.littleEndian, toByteOffset: i &* 4, as: UInt32.self) }
            #endif
        case .f64:
            for i in 0..<count {
                output.storeBytes(of: Double(input[i]).bitPattern.littleEndian, toByteOffset: i &* 8, as: UInt64.self)
            }
        case .f16: report.overflowed = HalfPrecision.encodeFloat16(input, into: output, count: count)
        case .bf16: report.overflowed = HalfPrecision.encodeBFloat16(input, into: output, count: count)
        case .f8E4M3: report.overflowed = Float8.encode(input, e4m3: true, into: output, count: count)
        case .f8E5M2: report.overflowed = Float8.encode(input, e4m3: false, into: output, count: count)
        default:
            guard BlockQuantization.canQuantize(dtype) else { throw .unsupported(dtype, operation: "encoding to") }
            let rows = count / rowLength
            guard let importance, let weights = importance.baseAddress else {
                BlockQuantization.quantize(input, as: dtype, into: output, rows: rows, rowLength: rowLength, importance: nil)
                return report
            }
            // One call per group of rows (expert), each with its own columns' importance.
            let groups = importance.count / rowLength
            let groupRows = rows / groups
            let groupBytes = dtype.byteCount(elements: groupRows &* rowLength) ?? 0
            for group in 0..<groups {
                BlockQuantization.quantize(
                    input + group &* groupRows &* rowLength, as: dtype, into: output + group &* groupBytes,
                    rows: groupRows, rowLength: rowLength, importance: weights + group &* rowLength)
            }
        }
        return report
    }
}
