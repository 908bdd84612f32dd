import Platform

/// How a tensor of the model graph gets its values: straight from a stored
/// tensor, or from a small expression over stored tensors that surgery and
/// format conversion build (row reordering, fusing, scaling, fresh init).
///
/// Expressions are evaluated lazily, a block of rows at a time, so writing
/// a transformed checkpoint streams like copying one. A "row" is a run of
/// the innermost dimension, as in ggml: a [E, F, D] tensor has E * F rows
/// of D values (so expert slabs are runs of rows), a 1-D tensor one row.
public indirect enum TensorExpression: Sendable {
    /// The stored tensor as it is.
    case stored(StoredTensor)
    /// Rows gathered from other expressions, in order.
    case rows([RowSegment])
    /// Every value multiplied by `factor`.
    case scaled(TensorExpression, by: Float)
    /// `factor` added to every value (zero-centred norm weights).
    case offset(TensorExpression, by: Float)
    /// All zeros.
    case zeros(rowCount: Int, rowElements: Int)
    /// Normal(0, std) values, a deterministic function of (seed, stream, row).
    case normal(rowCount: Int, rowElements: Int, std: Float, seed: UInt64, stream: UInt64)
    /// Values computed up front (small tensors).
    case values([Float], rowCount: Int)

    /// A run of `count` rows of `source` starting at row `start`.
    public struct RowSegment: Sendable {
        public var source: TensorExpression
        public var start: Int
        public var count: Int
        public init(_ source: TensorExpression, start: Int, count: Int) {
            self.source = source
            self.start = start
            self.count = count
        }
    }

    public var rowCount: Int {
        switch self {
        case .stored(let tensor): tensor.shape.count >= 2 ? tensor.shape.dropLast().reduce(1, *) : 1
        case .rows(let segments): segments.reduce(0) { $0 + $1.count }
        case .scaled(let inner, _), .offset(let inner, _): inner.rowCount
        case .zeros(let rows, _), .normal(let rows, _, _, _, _): rows
        case .values(_, let rows): rows
        }
    }

    public var rowElements: Int {
        switch self {
        case .stored(let tensor):
            return tensor.shape.count >= 2 ? tensor.shape[tensor.shape.count - 1] : tensor.elementCount
        case .rows(let segments): return segments.first?.source.rowElements ?? 0
        case .scaled(let inner, _), .offset(let inner, _): return inner.rowElements
        case .zeros(_, let elements), .normal(_, let elements, _, _, _): return elements
        case .values(let values, let rows): return rows == 0 ? 0 : values.count / rows
        }
    }

    /// Rows in the order `order` (`result[row] = self[order[row]]`).
    ///
    /// Gathers of gathers are flattened to one level and consecutive rows of
    /// one source merged, so un-permuting and re-permuting Llama's q/k rows
    /// (GGUF in, GGUF out) collapses back to the stored tensor itself.
    /// - Complexity: O(rows).
    public func gatheringRows(_ order: [Int]) -> TensorExpression {
        // Where each row of `self` comes from.
        var origins: [(source: TensorExpression, row: Int)] = []
        if case .rows(let segments) = self {
            origins.reserveCapacity(rowCount)
            for segment in segments {
                for offset in 0..<segment.count { origins.append((segment.source, segment.start + offset)) }
            }
        }
        var segments: [RowSegment] = []
        for row in order {
            let (source, sourceRow) = origins.isEmpty ? (self, row) : origins[row]
            TensorExpression.append(RowSegment(source, start: sourceRow, count: 1), to: &segments)
        }
        return TensorExpression.collapsing(segments)
    }

    /// The rows of `parts`, one after another (expert matrices stacked into
    /// llama.cpp's 3-D tensor, or a fused q_proj). Slices of one stored
    /// tensor that line up again become that stored tensor, so GGUF experts
    /// read and written back are copied byte for byte.
    /// - Complexity: O(segments of the parts).
    public static func concatenatingRows(_ parts: [TensorExpression]) -> TensorExpression {
        var segments: [RowSegment] = []
        for part in parts {
            if case .rows(let inner) = part {
                for segment in inner { append(segment, to: &segments) }
            } else {
                append(RowSegment(part, start: 0, count: part.rowCount), to: &segments)
            }
        }
        return collapsing(segments)
    }

    /// Appends `segment`, merging it into the last one when it continues the same storage.
    private static func append(_ segment: RowSegment, to segments: inout [RowSegment]) {
        guard segment.count > 0 else { return }
        if let last = segments.last, last.start + last.count == segment.start, last.source.isSameStorage(as: segment.source) {
            segments[segments.count - 1].count += segment.count
        } else {
            segments.append(segment)
        }
    }

    /// `.rows(segments)`, or the stored tensor itself when the segments are all of it in order.
    private static func collapsing(_ segments: [RowSegment]) -> TensorExpression {
        if segments.count == 1, let only = segments.first, only.start == 0, only.count == only.source.rowCount,
            case .stored = only.source
        {
            return only.source
        }
        return .rows(segments)
    }

    /// Every value plus `amount`; consecutive offsets fold into one, and
    /// offsets that cancel (-1 on reading a norm, +1 on writing it back)
    /// leave the expression itself, so a copy stays a byte copy.
    public func offset(by amount: Float) -> TensorExpression {
        if case .offset(let inner, let previous) = self {
            let total = previous + amount
            return total == 0 ? inner : .offset(inner, by: total)
        }
        return amount == 0 ? self : .offset(self, by: amount)
    }

    /// True when both are the same stored tensor (same mapping, same bytes).
    func isSameStorage(as other: TensorExpression) -> Bool {
        guard case .stored(let a) = self, case .stored(let b) = other else { return false }
        return a.file === b.file && a.byteRange == b.byteRange
    }

    /// The stored tensors this expression reads, each once.
    public var storedSources: [StoredTensor] {
        var found: [StoredTensor] = []
        func visit(_ expression: TensorExpression) {
            switch expression {
            case .stored(let tensor):
                if !found.contains(where: { $0.file === tensor.file && $0.byteRange == tensor.byteRange }) { found.append(tensor) }
            case .rows(let segments): for segment in segments { visit(segment.source) }
            case .scaled(let inner, _), .offset(let inner, _): visit(inner)
            default: break
            }
        }
        visit(self)
        return found
    }

    /// Lets the kernel drop the source pages once they are read, so
    /// resident memory stays near one tensor, not the whole mapped model.
    public func releaseSourcePages() {
        for source in storedSources { source.file.releasePages(in: source.byteRange) }
    }

    /// The stored tensor when the expression is exactly one, untransformed.
    public var storedTensor: StoredTensor? {
        if case .stored(let tensor) = self { return tensor }
        return nil
    }

    /// Whether rows of this expression can be produced as raw bytes of
    /// `dtype` by copying (gathering rows of tensors stored as `dtype`, or
    /// zeros), which keeps block-quantized data exact.
    public func isByteCopyable(as dtype: DType) -> Bool {
        switch self {
        case .stored(let tensor): tensor.dtype == dtype
        case .rows(let segments): segments.allSatisfy { $0.source.isByteCopyable(as: dtype) }
        case .zeros: !dtype.isQuantized || dtype.zeroBlockIsZeroBytes
        case .scaled(let inner, let factor):
            // Block types scale exactly by scaling their F16 block scales.
            dtype.halfScaleOffsets != nil && inner.isByteCopyable(as: dtype)
                && factor.significandBitPattern == 0 && factor.isNormal && factor > 0
        default: false
        }
    }

    /// Appends the raw bytes of rows `range` as `dtype`; only for
    /// expressions where `isByteCopyable(as:)` holds.
    public func appendRowBytes(_ range: Range<Int>, as dtype: DType, to output: inout [UInt8]) {
        switch self {
        case .stored(let tensor):
            let rowBytes = tensor.byteCount / max(1, rowCount)
            tensor.withBytes { bytes in
                output.append(contentsOf: bytes[(range.lowerBound * rowBytes)..<(range.upperBound * rowBytes)])
            }
        case .rows(let segments):
            forEachSegmentPiece(segments, range) { source, sourceRange in
                source.appendRowBytes(sourceRange, as: dtype, to: &output)
            }
        case .zeros(_, let elements):
            output.append(contentsOf: repeatElement(0, count: dtype.byteCount(elements: elements * range.count)!))
        case .scaled(let inner, let factor):
            let start = output.count
            inner.appendRowBytes(range, as: dtype, to: &output)
            let offsets = dtype.halfScaleOffsets!
            let scale = Float16(factor)
            output.withUnsafeMutableBytes { bytes in
                var block = start
                while block < bytes.count {
                    for offset in offsets {
                        let bits = bytes.loadUnaligned(fromByteOffset: block + offset, as: UInt16.self)
                        let scaled = Float16(bitPattern: UInt16(littleEndian: bits)) * scale
                        bytes.storeBytes(of: scaled.bitPattern.littleEndian, toByteOffset: block + offset, as: UInt16.self)
                    }
                    block += dtype.blockBytes
                }
            }
        default:
            preconditionFailure("rows are not byte-copyable")
        }
    }

    /// The F32 values of rows `range`, row-major.
    public func rowValues(_ range: Range<Int>) throws -> [Float] {
        let elements = rowElements
        switch self {
        case .stored(let tensor):
            var values = [Float](repeating: 0, count: range.count * elements)
            let dtype = tensor.dtype
            let rowBytes = tensor.byteCount / max(1, rowCount)
            try tensor.file.withBytes(in: (tensor.byteRange.lowerBound + range.lowerBound * rowBytes)..<(tensor.byteRange.lowerBound + range.upperBound * rowBytes)) { bytes in
                try values.withUnsafeMutableBufferPointer { buffer in
                    try ElementConversion.decode(bytes, as: dtype, into: buffer)
                }
            }
            return values
        case .rows(let segments):
            var values: [Float] = []
            values.reserveCapacity(range.count * elements)
            var failure: Error?
            forEachSegmentPiece(segments, range) { source, sourceRange in
                guard failure == nil else { return }
                do { values += try source.rowValues(sourceRange) } catch { failure = error }
            }
            if let failure { throw failure }
            return values
        case .scaled(let inner, let factor):
            var values = try inner.rowValues(range)
            for index in values.indices { values[index] *= factor }
            return values
        case .offset(let inner, let amount):
            var values = try inner.rowValues(range)
            for index in values.indices { values[index] += amount }
            return values
        case .zeros:
            return [Float](repeating: 0, count: range.count * elements)
        case .normal(_, _, let std, let seed, let stream):
            var values: [Float] = []
            values.reserveCapacity(range.count * elements)
            for row in range {
                var generator = NormalGenerator(seed: seed, stream: stream, row: UInt64(row))
                for _ in 0..<elements { values.append(generator.next() * std) }
            }
            return values
        case .values(let all, _):
            return Array(all[(range.lowerBound * elements)..<(range.upperBound * elements)])
        }
    }

    /// All values of the tensor in F32.
    public func allValues() throws -> [Float] {
        try rowValues(0..<rowCount)
    }

    private func forEachSegmentPiece(
        _ segments: [RowSegment], _ range: Range<Int>, _ body: (TensorExpression, Range<Int>) -> Void
    ) {
        var segmentStart = 0
        for segment in segments {
            let segmentRange = segmentStart..<(segmentStart + segment.count)
            let overlap = segmentRange.clamped(to: range)
            if !overlap.isEmpty {
                let local = (overlap.lowerBound - segmentStart + segment.start)..<(overlap.upperBound - segmentStart + segment.start)
                body(segment.source, local)
            }
            segmentStart += segment.count
            if segmentStart >= range.upperBound { break }
        }
    }
}

extension DType {
    /// Byte offsets, within a block, of the F16 scales that multiply every
    /// value of the block (d, and the min/offset term where there is one).
    /// Scaling them by a power of two scales the block's values exactly.
    var halfScaleOffsets: [Int]? {
        switch self {
        case .q4_0, .q5_0, .q8_0, .iq4_NL, .iq4_XS: [0]
        case .q4_1, .q5_1, .q8_1, .q4_K, .q5_K: [0, 2]
        case .q2_K: [80, 82]
        case .q3_K: [108]
        case .q6_K: [208]
        default: nil
        }
    }

    /// Whether an all-zero block encodes zeros (true for every ggml block
    /// type whose scales are stored as plain floats: a zero scale gives zero).
    var zeroBlockIsZeroBytes: Bool {
        switch self {
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K, .tq2_0: true
        default: !isQuantized
        }
    }
}

/// Deterministic standard normal values: a `SplitMix64` stream keyed by
/// (seed, stream, row), Box-Muller in Double. Any row can be produced
/// independently, so results do not depend on chunking or threads.
struct NormalGenerator {
    private var bits: SplitMix64
    private var spare: Double?

    init(seed: UInt64, stream: UInt64, row: UInt64) {
        bits = SplitMix64(state: seed &* 0x9E37_79B9_7F4A_7C15 ^ stream &* 0xBF58_476D_1CE4_E5B9 ^ row &* 0x94D0_49BB_1331_11EB)
    }

    private mutating func uniform() -> Double {
        // 53 random bits in (0, 1], never 0 so the logarithm is finite.
        (Double(bits.next() >> 11) + 1) / 9_007_199_254_740_992.0
    }

    mutating func next() -> Float {
        if let spare {
            self.spare = nil
            return Float(spare)
        }
        let radius = (-2 * log(uniform())).squareRoot()
        let angle = 2 * Double.pi * uniform()
        spare = radius * sin(angle)
        return Float(radius * cos(angle))
    }
}
