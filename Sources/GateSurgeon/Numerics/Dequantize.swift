/// Per-block dequantization kernels, one function per ggml type, each
/// reading one block at `x` and writing `blockSize` floats at `y`.
///
/// Every kernel is bit-identical with ggml's `dequantize_row_*` in
/// ggml-quants.c and with gguf-py's `gguf.quants.dequantize` (both compute
/// the same float products in the same order; neither fuses multiply-adds).
/// The 32-element types live here; the 256-element ones in `Dequantize+KQuants.swift`.
enum Dequantize {
    @inline(__always)
    static func byte(_ x: UnsafeRawPointer, _ offset: Int) -> UInt8 {
        x.load(fromByteOffset: offset, as: UInt8.self)
    }

    /// Q4_0: `d` (f16), 16 bytes of 4-bit quants; value = (q - 8) * d.
    @inline(__always)
    static func q4_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = HalfPrecision.loadFloat16(x, 0)
        for j in 0..<16 {
            let q = byte(x, 2 &+ j)
            y[j] = Float(Int32(q & 0x0F) &- 8) * d
            y[j &+ 16] = Float(Int32(q >> 4) &- 8) * d
        }
    }

    /// Q4_1: `d`, `m` (f16), 16 bytes of 4-bit quants; value = q * d + m.
    @inline(__always)
    static func q4_1(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = HalfPrecision.loadFloat16(x, 0)
        let m = HalfPrecision.loadFloat16(x, 2)
        for j in 0..<16 {
            let q = byte(x, 4 &+ j)
            y[j] = Float(q & 0x0F) * d + m
            y[j &+ 16] = Float(q >> 4) * d + m
        }
    }

    /// Q5_0: `d` (f16), 32 high bits, 16 bytes of low nibbles; value = (q - 16) * d.
    @inline(__always)
    static func q5_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = HalfPrecision.loadFloat16(x, 0)
        let qh = UInt32(littleEndian: x.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        for j in 0..<16 {
            let q = UInt32(byte(x, 6 &+ j))
            let high0 = ((qh >> UInt32(j)) << 4) & 0x10
            let high1 = (qh >> UInt32(j &+ 12)) & 0x10
            y[j] = Float(Int32(bitPattern: (q & 0x0F) | high0) &- 16) * d
            y[j &+ 16] = Float(Int32(bitPattern: (q >> 4) | high1) &- 16) * d
        }
    }

    /// Q5_1: `d`, `m` (f16), 32 high bits, 16 bytes of low nibbles; value = q * d + m.
    @inline(__always)
    static func q5_1(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = HalfPrecision.loadFloat16(x, 0)
        let m = HalfPrecision.loadFloat16(x, 2)
        let qh = UInt32(littleEndian: x.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        for j in 0..<16 {
            let q = UInt32(byte(x, 8 &+ j))
            let high0 = ((qh >> UInt32(j)) << 4) & 0x10
            let high1 = (qh >> UInt32(j &+ 12)) & 0x10
            y[j] = Float((q & 0x0F) | high0) * d + m
            y[j &+ 16] = Float((q >> 4) | high1) * d + m
        }
    }

    /// Q8_0: `d` (f16), 32 signed bytes; value = q * d.
    @inline(__always)
    static func q8_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = HalfPrecision.loadFloat16(x, 0)
        for j in 0..<32 {
            y[j] = Float(Int8(bitPattern: byte(x, 2 &+ j))) * d
        }
    }

    /// IQ4_NL: `d` (f16), 16 bytes of indices into ggml's `kvalues_iq4nl`; value = d * k[q].
    @inline(__always)
    static func iq4_NL(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = HalfPrecision.loadFloat16(x, 0)
        let values = BlockQuantization.iq4NonLinearValues
        for j in 0..<16 {
            let q = byte(x, 2 &+ j)
            y[j] = d * Float(values[Int(q & 0x0F)])
            y[j &+ 16] = d * Float(values[Int(q >> 4)])
        }
    }

    /// MXFP4: an E8M0 exponent, 16 bytes of E2M1 indices; value = k[q] * 2^(e-128)
    /// (ggml's `GGML_E8M0_TO_FP32_HALF` with the doubled `kvalues_mxfp4`).
    @inline(__always)
    static func mxfp4(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let e = UInt32(byte(x, 0))
        let d = Float(bitPattern: e < 2 ? UInt32(0x0020_0000) << e : (e &- 1) << 23)
        let values = BlockQuantization.mxfp4Values
        for j in 0..<16 {
            let q = byte(x, 1 &+ j)
            y[j] = Float(values[Int(q & 0x0F)]) * d
            y[j &+ 16] = Float(values[Int(q >> 4)]) * d
        }
    }
}
