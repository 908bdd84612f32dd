/// Per-block quantization kernels, one function per ggml type, each reading
/// `blockSize` floats at `x` and writing one block at `y`.
///
/// Every kernel is a line-by-line port of ggml's `quantize_row_*_ref` in
/// ggml-quants.c, the quantizer `ggml_quantize_chunk` uses without an
/// importance matrix and `llama-quantize --pure` calls, and is byte-identical
/// with it: the same float operations in the same order (no fused
/// multiply-add, as in the reference build), the same `nearest_int`, the same
/// C float-to-integer truncations, scales rounded to half to nearest even.
/// The 32-element types live here; the K-quants in `Quantize+KQuants.swift`;
/// IQ4_NL and IQ4_XS, whose reference is `quantize_iq4_{nl,xs}` instead, in
/// `Quantize+NonLinear.swift`; the importance-weighted paths of all of these
/// (`quantize_row_*_impl` with `quant_weights`) in `Quantize+Importance.swift`;
/// the lattice types in `Quantize+IQ1.swift`, `Quantize+IQ2.swift` and
/// `Quantize+IQ3.swift`.
///
/// These Swift kernels are the portable path. Where the CPU has AVX2 or
/// AVX-512, `BlockQuantization` runs the C kernels instead (module CKernels:
/// `quantize.c` for the 32-element types, `kquants_template.h` for Q2_K to
/// Q6_K, IQ4_NL and IQ4_XS), which write the same bytes and hand blocks with
/// NaN or infinities back to these.
enum Quantize {
    @inline(__always)
    static func store(_ value: UInt8, _ y: UnsafeMutableRawPointer, _ offset: Int) {
        y.storeBytes(of: value, toByteOffset: offset, as: UInt8.self)
    }

    /// The element of largest magnitude, the first one on ties (`amax < fabsf(v)`).
    @inline(__always)
    static func signedAbsoluteMaximum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var amax: Float = 0
        var max: Float = 0
        for j in 0..<n {
            let v = x[j]
            if amax < v.magnitude {
                amax = v.magnitude
                max = v
            }
        }
        return max
    }

    /// Minimum and maximum as the reference computes them (`v < min`, `v > max`
    /// from ±FLT_MAX).
    @inline(__always)
    static func minimumAndMaximum(_ x: UnsafePointer<Float>, _ n: Int) -> (Float, Float) {
        var min = Float.greatestFiniteMagnitude
        var max = -Float.greatestFiniteMagnitude
        for j in 0..<n {
            let v = x[j]
            if v < min { min = v }
            if v > max { max = v }
        }
        return (min, max)
    }

    /// `quantize_row_q4_0_ref`.
    @inline(__always)
    static func q4_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        let max = signedAbsoluteMaximum(x, 32)
        let d = max / -8
        let id: Float = d != 0 ? 1 / d : 0
        HalfPrecision.storeFloat16(d, y, 0)
        for j in 0..<16 {
            let x0 = x[j] * id
            let x1 = x[16 &+ j] * id
            let xi0 = UInt8(truncatingIfNeeded: Swift.min(15, Int32(Int8(truncatingIfNeeded: BlockQuantization.truncatingToInt32(x0 + 8.5)))))
            let xi1 = UInt8(truncatingIfNeeded: Swift.min(15, Int32(Int8(truncatingIfNeeded: BlockQuantization.truncatingToInt32(x1 + 8.5)))))
            store(xi0 | (xi1 << 4), y, 2 &+ j)
        }
    }

    /// `quantize_row_q4_1_ref`.
    @inline(__always)
    static func q4_1(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        let (min, max) = minimumAndMaximum(x, 32)
        let d = (max - min) / 15
        let id: Float = d != 0 ? 1 / d : 0
        HalfPrecision.storeFloat16(d, y, 0)
        HalfPrecision.storeFloat16(min, y, 2)
        for j in 0..<16 {
            let x0 = (x[j] - min) * id
            let x1 = (x[16 &+ j] - min) * id
            let xi0 = UInt8(truncatingIfNeeded: Swift.min(15, Int32(Int8(truncatingIfNeeded: BlockQuantization.truncatingToInt32(x0 + 0.5)))))
            let xi1 = UInt8(truncatingIfNeeded: Swift.min(15, Int32(Int8(truncatingIfNeeded: BlockQuantization.truncatingToInt32(x1 + 0.5)))))
            store(xi0 | (xi1 << 4), y, 4 &+ j)
        }
    }

    /// `quantize_row_q5_0_ref`.
    @inline(__always)
    static func q5_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        let max = signedAbsoluteMaximum(x, 32)
        let d = max / -16
        let id: Float = d != 0 ? 1 / d : 0
        HalfPrecision.storeFloat16(d, y, 0)
        var qh: UInt32 = 0
        for j in 0..<16 {
            let x0 = x[j] * id
            let x1 = x[16 &+ j] * id
            let xi0 = UInt8(truncatingIfNeeded: Swift.min(31, Int32(Int8(truncatingIfNeeded: BlockQuantization.truncatingToInt32(x0 + 16.5)))))
            let xi1 = UInt8(truncatingIfNeeded: Swift.min(31, Int32(Int8(truncatingIfNeeded: BlockQuantization.truncatingToInt32(x1 + 16.5)))))
            store((xi0 & 0x0F) | ((xi1 & 0x0F) << 4), y, 6 &+ j)
            qh |= (UInt32(xi0 & 0x10) >> 4) << UInt32(j)
            qh |= (UInt32(xi1 & 0x10) >> 4) << UInt32(j &+ 16)
        }
        y.storeBytes(of: qh.littleEndian, toByteOffset: 2, as: UInt32.self)
    }

    /// `quantize_row_q5_1_ref`.
    @inline(__always)
    static func q5_1(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        let (min, max) = minimumAndMaximum(x, 32)
        let d = (max - min) / 31
        let id: Float = d != 0 ? 1 / d : 0
        HalfPrecision.storeFloat16(d, y, 0)
        HalfPrecision.storeFloat16(min, y, 2)
        var qh: UInt32 = 0
        for j in 0..<16 {
            let x0 = (x[j] - min) * id
            let x1 = (x[16 &+ j] - min) * id
            let xi0 = BlockQuantization.truncatingToByte(x0 + 0.5)
            let xi1 = BlockQuantization.truncatingToByte(x1 + 0.5)
            store((xi0 & 0x0F) | ((xi1 & 0x0F) << 4), y, 8 &+ j)
            qh |= (UInt32(xi0 & 0x10) >> 4) << UInt32(j)
            qh |= (UInt32(xi1 & 0x10) >> 4) << UInt32(j &+ 16)
        }
        y.storeBytes(of: qh.littleEndian, toByteOffset: 4, as: UInt32.self)
    }

    /// `quantize_row_q8_0_ref`.
    @inline(__always)
    static func q8_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        var amax: Float = 0
        for j in 0..<32 {
            let a = x[j].magnitude
            amax = amax > a ? amax : a  // C's MAX(amax, fabsf(v))
        }
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        HalfPrecision.storeFloat16(d, y, 0)
        for j in 0..<32 {
            store(BlockQuantization.truncatingToByte((x[j] * id).rounded(.toNearestOrAwayFromZero)), y, 2 &+ j)
        }
    }
}
