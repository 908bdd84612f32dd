#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Quantization to TQ1_0, TQ2_0 and MXFP4: ports of ggml's
/// `quantize_row_tq1_0_ref`, `quantize_row_tq2_0_ref` and
/// `quantize_row_mxfp4_ref` (ggml-quants.c), which `ggml_quantize_chunk`
/// uses with or without an importance matrix (they ignore it), byte-identical
/// with them for finite inputs.
extension Quantize {
    /// C's `lroundf(v) + 1` for the ternary digits: -1, 0, 1 become 0, 1, 2.
    @inline(__always)
    static func ternaryDigit(_ v: Float) -> Int32 {
        BlockQuantization.truncatingToInt32(v.rounded(.toNearestOrAwayFromZero)) &+ 1
    }

    /// `d` = the largest magnitude (`MAX(amax, fabsf(v))`), stored as f16; returns `1/d` (0 for 0).
    @inline(__always)
    static func ternaryScale(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, at offset: Int) -> Float {
        var amax: Float = 0
        for j in 0..<256 {
            let a = x[j].magnitude
            amax = amax > a ? amax : a
        }
        HalfPrecision.storeFloat16(amax, y, offset)
        return amax != 0 ? 1 / amax : 0
    }

    /// `quantize_row_tq1_0_ref`: 48 bytes of five base-3 digits each (32 then
    /// 16 bytes along the block), 4 bytes of four digits, `d` (f16).
    @inline(__always)
    static func tq1_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        let id = ternaryScale(x, y, at: 52)
        let bytes = y.assumingMemoryBound(to: UInt8.self)
        @inline(__always) func pack(_ q: UInt8) -> UInt8 { UInt8(truncatingIfNeeded: (UInt16(q) &* 256 &+ 242) / 243) }
        var xp = x
        for (start, width) in [(0, 32), (32, 16)] {
            for m in 0..<width {
                var q: UInt8 = 0
                for n in 0..<5 { q = q &* 3 &+ UInt8(truncatingIfNeeded: ternaryDigit(xp[m &+ n &* width] * id)) }
                bytes[start &+ m] = pack(q)
            }
            xp += 5 &* width
        }
        for j in 0..<4 {
            var q: UInt8 = 0
            for m in 0..<4 { q = q &* 3 &+ UInt8(truncatingIfNeeded: ternaryDigit(xp[j &+ m &* 4] * id)) }
            bytes[48 &+ j] = pack(q &* 3)
        }
    }

    /// `quantize_row_tq2_0_ref`: 64 bytes of four 2-bit digits, `d` (f16).
    @inline(__always)
    static func tq2_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        let id = ternaryScale(x, y, at: 64)
        let bytes = y.assumingMemoryBound(to: UInt8.self)
        for j in stride(from: 0, to: 64, by: 32) {
            let xp = x + j &* 4
            for m in 0..<32 {
                var q: UInt8 = 0
                for n in 0..<4 {
                    q = q &+ (UInt8(truncatingIfNeeded: ternaryDigit(xp[m &+ n &* 32] * id) & 3) << UInt8(2 &* n))
                }
                bytes[j &+ m] = q
            }
        }
    }

    /// `quantize_row_mxfp4_ref`: an E8M0 exponent `floor(log2(amax)) - 2 + 127`,
    /// then per element the index of the nearest doubled E2M1 value times
    /// half the scale (the first on ties).
    @inline(__always)
    static func mxfp4(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        var amax: Float = 0
        for j in 0..<32 where amax < x[j].magnitude { amax = x[j].magnitude }
        let e: UInt8 = amax > 0 ? BlockQuantization.truncatingToByte(floorf(log2f(amax)) - 2 + 127) : 0
        let d = Float(bitPattern: e < 2 ? UInt32(0x0020_0000) << UInt32(e) : (UInt32(e) &- 1) << 23)
        store(e, y, 0)
        let values = SIMD16<Float>(BlockQuantization.mxfp4Values)
        @inline(__always) func bestIndex(_ v: Float) -> UInt8 {
            var best = 0
            var bestError = (values[0] * d - v).magnitude
            for i in 1..<16 {
                let error = (values[i] * d - v).magnitude
                if error < bestError {
                    best = i
                    bestError = error
                }
            }
            return UInt8(best)
        }
        for j in 0..<16 { store(bestIndex(x[j]) | (bestIndex(x[16 &+ j]) << 4), y, 1 &+ j) }
    }
}
