import CKernels

/// 16-bit float kernels: F16 (IEEE binary16) and BF16 (bfloat16) to and from F32.
///
/// Bit-exact with torch's CPU `Tensor.to(torch.float16)` / `.to(torch.bfloat16)`
/// and back (round to nearest even, subnormals kept, signed zeros and
/// infinities kept), with these NaN rules taken from torch's output:
/// - F32 -> BF16: every NaN becomes `0xFFFF` (torch's vectorized CPU cast;
///   c10's scalar path would give `0x7FC0`).
/// - F32 -> F16: quiet NaN, sign kept, the top 10 payload bits kept (F16C's
///   `vcvtps2ph`, e.g. `0x7FA00000` -> `0x7F00`).
/// - F16 -> F32: quiet bit set, sign and payload kept (`vcvtph2ps`).
/// - BF16 -> F32: exact (the 16 bits become the high half).
/// torch casts F64 to F16/BF16 through F32 (two roundings); `ElementConversion`
/// does the same by decoding F64 to F32 first.
enum HalfPrecision {
    // MARK: Scalar conversions

    /// Rounds `x` to bfloat16 bits, nearest even; NaN becomes `0xFFFF` as in torch.
    @inline(__always)
    static func bfloat16Bits(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        let rounded = UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
        return x.isNaN ? 0xFFFF : rounded
    }

    /// The F32 value of bfloat16 bits (exact).
    @inline(__always)
    static func float(bfloat16Bits bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Rounds `x` to IEEE half bits, nearest even; the same result as
    /// `Float16(x)`, ggml's `GGML_FP32_TO_FP16` and F16C, NaN payloads included.
    @inline(__always)
    static func float16Bits(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        let sign = UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000)
        let magnitude = bits & 0x7FFF_FFFF
        let result: UInt32
        if magnitude >= 0x477F_F000 {
            // 65520 and above round to infinity; NaN keeps its top payload bits, made quiet.
            result = magnitude > 0x7F80_0000 ? 0x7E00 | ((magnitude >> 13) & 0x3FF) : 0x7C00
        } else if magnitude >= 0x3880_0000 {
            // Normal half: rebias the exponent by 127 - 15, round the 13 dropped bits to even.
            let rebiased = magnitude &- 0x3800_0000
            result = (rebiased &+ 0x0FFF &+ ((rebiased >> 13) & 1)) >> 13
        } else {
            // Subnormal half or zero: adding 0.5 leaves 2^-24 as the unit in the last
            // place, so the FPU's round-to-nearest-even does the rounding.
            result = (Float(bitPattern: magnitude) + 0.5).bitPattern &- 0x3F00_0000
        }
        return sign | UInt16(truncatingIfNeeded: result)
    }

    /// The F32 value of IEEE half bits (exact; NaN made quiet, payload kept).
    @inline(__always)
    static func float(float16Bits bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let magnitude = UInt32(bits & 0x7FFF)
        let result: UInt32
        if magnitude >= 0x7C00 {
            let payload = (magnitude & 0x3FF) << 13
            result = 0x7F80_0000 | payload | (payload != 0 ? 0x40_0000 : 0)
        } else if magnitude >= 0x0400 {
            result = (magnitude << 13) &+ 0x3800_0000
        } else {
            result = (Float(magnitude) * 0x1p-24).bitPattern
        }
        return Float(bitPattern: sign | result)
    }

    /// Reads a little-endian half at `offset` as F32 (ggml's `GGML_FP16_TO_FP32`).
    @inline(__always)
    static func loadFloat16(_ base: UnsafeRawPointer, _ offset: Int) -> Float {
        float(float16Bits: UInt16(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    /// Stores `x` rounded to half at `offset`, little-endian (ggml's `GGML_FP32_TO_FP16`).
    @inline(__always)
    static func storeFloat16(_ x: Float, _ base: UnsafeMutableRawPointer, _ offset: Int) {
        base.storeBytes(of: float16Bits(x).littleEndian, toByteOffset: offset, as: UInt16.self)
    }

    // MARK: Bulk kernels

    // Each runs the C kernels at `level` (AVX2 / AVX-512, the same bits) when
    // the CPU has them, the scalar Swift loops below otherwise; chunks of
    // `grain` elements spread over the cores.

    static let grain = 1 << 16

    /// Decodes `count` little-endian bfloat16 values.
    /// - Complexity: O(count), parallel over chunks.
    static func decodeBFloat16(
        _ source: UnsafeRawPointer, into destination: UnsafeMutablePointer<Float>, count: Int, level: VectorKernels.Level = VectorKernels.best
    ) {
        ParallelChunks.forEach(count: count, grain: grain) { range in
            if level > .portable {
                gs_decode_bf16(level.rawValue, source + range.lowerBound &* 2, destination + range.lowerBound, range.count)
                return
            }
            for i in range {
                let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))
                destination[i] = float(bfloat16Bits: bits)
            }
        }
    }

    /// Decodes `count` little-endian IEEE halves.
    /// - Complexity: O(count), parallel over chunks.
    static func decodeFloat16(
        _ source: UnsafeRawPointer, into destination: UnsafeMutablePointer<Float>, count: Int, level: VectorKernels.Level = VectorKernels.best
    ) {
        ParallelChunks.forEach(count: count, grain: grain) { range in
            if level > .portable {
                gs_decode_f16(level.rawValue, source + range.lowerBound &* 2, destination + range.lowerBound, range.count)
                return
            }
            for i in range {
                let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))
                destination[i] = float(float16Bits: bits)
            }
        }
    }

    /// Encodes `count` little-endian F32 values (any alignment) as little-endian bfloat16; returns how many finite inputs became infinite.
    /// - Complexity: O(count), parallel over chunks.
    static func encodeBFloat16(
        _ source: UnsafeRawPointer, into destination: UnsafeMutableRawPointer, count: Int, level: VectorKernels.Level = VectorKernels.best
    ) -> Int {
        countingOverflow(count: count) { range in
            if level > .portable {
                return gs_encode_bf16(level.rawValue, source + range.lowerBound &* 4, destination + range.lowerBound &* 2, range.count)
            }
            var overflowed = 0
            for i in range {
                let x = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self)))
                let bits = bfloat16Bits(x)
                overflowed &+= (bits & 0x7FFF == 0x7F80 && x.isFinite) ? 1 : 0
                destination.storeBytes(of: bits.littleEndian, toByteOffset: i &* 2, as: UInt16.self)
            }
            return overflowed
        }
    }

    /// Encodes `count` little-endian F32 values (any alignment) as little-endian IEEE halves; returns how many finite inputs became infinite.
    /// - Complexity: O(count), parallel over chunks.
    static func encodeFloat16(
        _ source: UnsafeRawPointer, into destination: UnsafeMutableRawPointer, count: Int, level: VectorKernels.Level = VectorKernels.best
    ) -> Int {
        countingOverflow(count: count) { range in
            if level > .portable {
                return gs_encode_f16(level.rawValue, source + range.lowerBound &* 4, destination + range.lowerBound &* 2, range.count)
            }
            var overflowed = 0
            for i in range {
                let x = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self)))
                let bits = float16Bits(x)
                overflowed &+= (bits & 0x7FFF == 0x7C00 && x.isFinite) ? 1 : 0
                destination.storeBytes(of: bits.littleEndian, toByteOffset: i &* 2, as: UInt16.self)
            }
            return overflowed
        }
    }

    /// Runs `body` over chunks of `0..<count` and adds up what it returns.
    @inline(__always)
    static func countingOverflow(count: Int, _ body: (Range<Int>) -> Int) -> Int {
        let chunks = max(1, (count &+ grain &- 1) / grain)
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: chunks) { totals in
            totals.initialize(repeating: 0)
            ParallelChunks.forEach(count: count, grain: grain) { range in
                totals[range.lowerBound / grain] = body(range)
            }
            return totals.reduce(0, &+)
        }
    }
}
