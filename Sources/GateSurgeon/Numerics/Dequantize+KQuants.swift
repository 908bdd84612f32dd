/// Dequantization of the 256-element super-block types (K-quants, IQ4_XS,
/// ternary), bit-identical with ggml's `dequantize_row_*` and gguf-py.
extension Dequantize {
    /// Q2_K: 16 scale/min nibbles, 64 bytes of 2-bit quants, `d`, `dmin` (f16);
    /// value = d * sc * q - dmin * m.
    @inline(__always)
    static func q2_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = HalfPrecision.loadFloat16(x, 80)
        let dmin = HalfPrecision.loadFloat16(x, 82)
        var out = 0
        var scaleIndex = 0
        for half in 0..<2 {
            let q = 16 &+ half &* 32
            for j in 0..<4 {
                let shift = UInt8(2 &* j)
                for group in 0..<2 {
                    let sc = byte(x, scaleIndex)
                    scaleIndex &+= 1
                    let dl = d * Float(sc & 0xF)
                    let ml = dmin * Float(sc >> 4)
                    let base = q &+ group &* 16
                    for l in 0..<16 {
                        y[out &+ l] = dl * Float((byte(x, base &+ l) >> shift) & 3) - ml
                    }
                    out &+= 16
                }
            }
        }
    }

    /// Q3_K: 32 bytes of high bits, 64 bytes of 2-bit quants, 12 bytes of
    /// 6-bit scales, `d` (f16); value = d * (sc - 32) * (q - (high ? 0 : 4)).
    @inline(__always)
    static func q3_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let dAll = HalfPrecision.loadFloat16(x, 108)
        var out = 0
        var scaleIndex = 0
        var mask: UInt8 = 1
        for half in 0..<2 {
            let q = 32 &+ half &* 32
            for j in 0..<4 {
                let shift = UInt8(2 &* j)
                for group in 0..<2 {
                    let dl = dAll * Float(q3KScale(x, scaleIndex))
                    scaleIndex &+= 1
                    let offset = group &* 16
                    for l in 0..<16 {
                        let low = Int32((byte(x, q &+ offset &+ l) >> shift) & 3)
                        let high: Int32 = byte(x, offset &+ l) & mask != 0 ? 0 : 4
                        y[out &+ l] = dl * Float(low &- high)
                    }
                    out &+= 16
                }
                mask <<= 1
            }
        }
    }

    /// The signed scale `j` of a Q3_K block (6 bits, stored biased by 32).
    @inline(__always)
    static func q3KScale(_ x: UnsafeRawPointer, _ j: Int) -> Int32 {
        let scales = 96
        let low = j < 8 ? byte(x, scales &+ j) & 0xF : byte(x, scales &+ j &- 8) >> 4
        let high = (byte(x, scales &+ 8 &+ j % 4) >> UInt8(2 &* (j / 4))) & 3
        return Int32(low | (high << 4)) &- 32
    }

    /// Q4_K: `d`, `dmin` (f16), 12 bytes of 6-bit scales and mins, 128 bytes
    /// of 4-bit quants; value = d * sc * q - dmin * m.
    @inline(__always)
    static func q4_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = HalfPrecision.loadFloat16(x, 0)
        let dmin = HalfPrecision.loadFloat16(x, 2)
        let scales = x + 4
        for chunk in 0..<4 {
            let (sc1, m1) = BlockQuantization.scaleMinK4(2 &* chunk, scales)
            let (sc2, m2) = BlockQuantization.scaleMinK4(2 &* chunk &+ 1, scales)
            let d1 = d * Float(sc1), min1 = dmin * Float(m1)
            let d2 = d * Float(sc2), min2 = dmin * Float(m2)
            let q = 16 &+ chunk &* 32
            let out = y + chunk &* 64
            for l in 0..<32 {
                let b = byte(x, q &+ l)
                out[l] = d1 * Float(b & 0xF) - min1
                out[l &+ 32] = d2 * Float(b >> 4) - min2
            }
        }
    }

    /// Q5_K: `d`, `dmin` (f16), 12 bytes of 6-bit scales and mins, 32 bytes of
    /// high bits, 128 bytes of low nibbles; value = d * sc * q - dmin * m.
    @inline(__always)
    static func q5_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = HalfPrecision.loadFloat16(x, 0)
        let dmin = HalfPrecision.loadFloat16(x, 2)
        let scales = x + 4
        var u1: UInt8 = 1
        var u2: UInt8 = 2
        for chunk in 0..<4 {
            let (sc1, m1) = BlockQuantization.scaleMinK4(2 &* chunk, scales)
            let (sc2, m2) = BlockQuantization.scaleMinK4(2 &* chunk &+ 1, scales)
            let d1 = d * Float(sc1), min1 = dmin * Float(m1)
            let d2 = d * Float(sc2), min2 = dmin * Float(m2)
            let ql = 48 &+ chunk &* 32
            let out = y + chunk &* 64
            for l in 0..<32 {
                let b = byte(x, ql &+ l)
                let h = byte(x, 16 &+ l)
                out[l] = d1 * Float((b & 0xF) &+ (h & u1 != 0 ? 16 : 0)) - min1
                out[l &+ 32] = d2 * Float((b >> 4) &+ (h & u2 != 0 ? 16 : 0)) - min2
            }
            u1 <<= 2
            u2 <<= 2
        }
    }

    /// Q6_K: 128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 signed
    /// scales, `d` (f16); value = d * sc * (q - 32).
    @inline(__always)
    static func q6_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = HalfPrecision.loadFloat16(x, 208)
        for half in 0..<2 {
            let ql = half &* 64
            let qh = 128 &+ half &* 32
            let sc = 192 &+ half &* 8
            let out = y + half &* 128
            for l in 0..<32 {
                let scale = sc &+ l / 16
                let low0 = byte(x, ql &+ l), low1 = byte(x, ql &+ l &+ 32), high = byte(x, qh &+ l)
                let q1 = Int32((low0 & 0xF) | ((high & 3) << 4)) &- 32
                let q2 = Int32((low1 & 0xF) | (((high >> 2) & 3) << 4)) &- 32
                let q3 = Int32((low0 >> 4) | (((high >> 4) & 3) << 4)) &- 32
                let q4 = Int32((low1 >> 4) | (((high >> 6) & 3) << 4)) &- 32
                out[l] = d * Float(Int8(bitPattern: byte(x, scale))) * Float(q1)
                out[l &+ 32] = d * Float(Int8(bitPattern: byte(x, scale &+ 2))) * Float(q2)
                out[l &+ 64] = d * Float(Int8(bitPattern: byte(x, scale &+ 4))) * Float(q3)
                out[l &+ 96] = d * Float(Int8(bitPattern: byte(x, scale &+ 6))) * Float(q4)
            }
        }
    }

    /// Q8_K: `d` (f32), 256 signed bytes, 16 block sums; value = d * q.
    @inline(__always)
    static func q8_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = Float(bitPattern: UInt32(littleEndian: x.loadUnaligned(fromByteOffset: 0, as: UInt32.self)))
        for j in 0..<256 {
            y[j] = d * Float(Int8(bitPattern: byte(x, 4 &+ j)))
        }
    }

    /// IQ4_XS: `d` (f16), 6-bit sub-block scales (16 high bits, 4 bytes of low
    /// nibbles), 128 bytes of `kvalues_iq4nl` indices; value = d * (ls - 32) * k[q].
    @inline(__always)
    static func iq4_XS(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = HalfPrecision.loadFloat16(x, 0)
        let scalesHigh = UInt16(littleEndian: x.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        let values = BlockQuantization.iq4NonLinearValues
        for ib in 0..<8 {
            let low = Int32((byte(x, 4 &+ ib / 2) >> UInt8(4 &* (ib % 2))) & 0xF)
            let high = Int32((scalesHigh >> UInt16(2 &* ib)) & 3)
            let dl = d * Float((low | (high << 4)) &- 32)
            let qs = 8 &+ ib &* 16
            let out = y + ib &* 32
            for j in 0..<16 {
                let q = byte(x, qs &+ j)
                out[j] = dl * Float(values[Int(q & 0xF)])
                out[j &+ 16] = dl * Float(values[Int(q >> 4)])
            }
        }
    }

    /// TQ1_0: 48 bytes of five base-3 digits each, 4 bytes of four digits, `d`
    /// (f16); value = (digit - 1) * d.
    @inline(__always)
    static func tq1_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = HalfPrecision.loadFloat16(x, 52)
        let powers: SIMD8<UInt8> = [1, 3, 9, 27, 81, 0, 0, 0]
        var out = 0
        @inline(__always) func digit(_ byte: UInt8, _ n: Int) -> Float {
            let q = byte &* powers[n]
            return Float(Int16((UInt16(q) &* 3) >> 8) &- 1) * d
        }
        @inline(__always) func fiveDigits(start: Int, width: Int) {
            for n in 0..<5 {
                for m in 0..<width {
                    y[out] = digit(byte(x, start &+ m), n)
                    out &+= 1
                }
            }
        }
        fiveDigits(start: 0, width: 32)
        fiveDigits(start: 32, width: 16)
        for n in 0..<4 {
            for j in 0..<4 {
                y[out] = digit(byte(x, 48 &+ j), n)
                out &+= 1
            }
        }
    }

    /// TQ2_0: 64 bytes of 2-bit digits, `d` (f16); value = (digit - 1) * d.
    @inline(__always)
    static func tq2_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = HalfPrecision.loadFloat16(x, 64)
        var out = 0
        for j in stride(from: 0, to: 64, by: 32) {
            for l in 0..<4 {
                for m in 0..<32 {
                    let q = Int32((byte(x, j &+ m) >> UInt8(2 &* l)) & 3)
                    y[out] = Float(q &- 1) * d
                    out &+= 1
                }
            }
        }
    }
}
