/// Dequantization of IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S and
/// IQ1_M, bit-identical with ggml's `dequantize_row_iq*` (ggml-quants.c) and
/// gguf-py's `dequantize`: the same products in the same order, with the
/// value grids of ggml-common.h (`iq2xxs_grid` ... `iq1s_grid`) derived from
/// the codebooks in `IQGridCodes`, as gguf-py derives them.
extension Dequantize {
    /// `ksigns_iq2xs`: seven sign bits completed to an even count by bit 7.
    @inline(__always)
    static func evenSigns(_ bits: UInt32) -> UInt8 {
        let seven = UInt8(truncatingIfNeeded: bits & 127)
        return seven | (UInt8(truncatingIfNeeded: seven.nonzeroBitCount & 1) << 7)
    }

    /// `-1` where bit `j` of `signs` is set, else `1` (`kmask_iq2xs[j]`).
    @inline(__always)
    static func sign(_ signs: UInt8, _ j: Int) -> Float { signs & (1 << UInt8(j)) != 0 ? -1 : 1 }

    @inline(__always)
    static func word32(_ x: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        UInt32(littleEndian: x.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inline(__always)
    static func word16(_ x: UnsafeRawPointer, _ offset: Int) -> UInt16 {
        UInt16(littleEndian: x.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    /// IQ2_XXS (66 bytes): `d`, then per 32 elements four grid bytes and a
    /// word of four 7-bit sign groups and a 4-bit scale.
    @inline(__always)
    static func iq2_XXS(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let grid = IQValueGrid.iq2xxs.values
        let d = HalfPrecision.loadFloat16(x, 0)
        for ib in 0..<8 {
            let aux1 = word32(x, 2 &+ 8 &* ib &+ 4)
            let db = d * (0.5 + Float(aux1 >> 28)) * 0.25
            for l in 0..<4 {
                let point = grid + Int(byte(x, 2 &+ 8 &* ib &+ l)) &* 8
                let signs = evenSigns(aux1 >> UInt32(7 &* l))
                let out = y + (32 &* ib &+ 8 &* l)
                for j in 0..<8 { out[j] = db * Float(point[j]) * sign(signs, j) }
            }
        }
    }

    /// IQ2_XS (74 bytes): `d`, per group of 8 a 16-bit word (9-bit index,
    /// 7-bit signs), per 32 elements a byte of two 4-bit scales.
    @inline(__always)
    static func iq2_XS(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let grid = IQValueGrid.iq2xs.values
        let d = HalfPrecision.loadFloat16(x, 0)
        for ib in 0..<8 {
            let scale = byte(x, 66 &+ ib)
            let db0 = d * (0.5 + Float(scale & 0xF)) * 0.25
            let db1 = d * (0.5 + Float(scale >> 4)) * 0.25
            for l in 0..<4 {
                let q = word16(x, 2 &+ 2 &* (4 &* ib &+ l))
                let point = grid + Int(q & 511) &* 8
                let signs = evenSigns(UInt32(q >> 9))
                let db = l < 2 ? db0 : db1
                let out = y + (32 &* ib &+ 8 &* l)
                for j in 0..<8 { out[j] = db * Float(point[j]) * sign(signs, j) }
            }
        }
    }

    /// IQ2_S (82 bytes): `d`, 32 index bytes, 32 sign bytes, 8 bytes of
    /// high index bits, 8 bytes of two 4-bit scales.
    @inline(__always)
    static func iq2_S(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let grid = IQValueGrid.iq2s.values
        let d = HalfPrecision.loadFloat16(x, 0)
        for ib in 0..<8 {
            let scale = byte(x, 74 &+ ib)
            let db0 = d * (0.5 + Float(scale & 0xF)) * 0.25
            let db1 = d * (0.5 + Float(scale >> 4)) * 0.25
            let qh = Int(byte(x, 66 &+ ib))
            for l in 0..<4 {
                let index = Int(byte(x, 2 &+ 4 &* ib &+ l)) | ((qh << (8 &- 2 &* l)) & 0x300)
                let point = grid + index &* 8
                let signs = byte(x, 34 &+ 4 &* ib &+ l)
                let db = l < 2 ? db0 : db1
                let out = y + (32 &* ib &+ 8 &* l)
                for j in 0..<8 { out[j] = db * Float(point[j]) * sign(signs, j) }
            }
        }
    }

    /// IQ3_XXS (98 bytes): `d`, 64 grid bytes, then per 32 elements a word
    /// of four 7-bit sign groups and a 4-bit scale.
    @inline(__always)
    static func iq3_XXS(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let grid = IQValueGrid.iq3xxs.values
        let d = HalfPrecision.loadFloat16(x, 0)
        for ib in 0..<8 {
            let aux = word32(x, 66 &+ 4 &* ib)
            let db = d * (0.5 + Float(aux >> 28)) * 0.5
            for l in 0..<4 {
                let signs = evenSigns(aux >> UInt32(7 &* l))
                let point1 = grid + Int(byte(x, 2 &+ 8 &* ib &+ 2 &* l)) &* 4
                let point2 = grid + Int(byte(x, 2 &+ 8 &* ib &+ 2 &* l &+ 1)) &* 4
                let out = y + (32 &* ib &+ 8 &* l)
                for j in 0..<4 {
                    out[j] = db * Float(point1[j]) * sign(signs, j)
                    out[j &+ 4] = db * Float(point2[j]) * sign(signs, j &+ 4)
                }
            }
        }
    }

    /// IQ3_S (110 bytes): `d`, 64 index bytes, 8 bytes of high index bits,
    /// 32 sign bytes, 4 bytes of two 4-bit scales (`1 + 2s`).
    @inline(__always)
    static func iq3_S(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let grid = IQValueGrid.iq3s.values
        let d = HalfPrecision.loadFloat16(x, 0)
        for pair in 0..<4 {
            let scale = Int32(byte(x, 106 &+ pair))
            for half in 0..<2 {
                let ib = 2 &* pair &+ half
                let db = d * Float(1 &+ 2 &* (half == 0 ? scale & 0xF : scale >> 4))
                let qh = Int(byte(x, 66 &+ ib))
                for l in 0..<4 {
                    let index1 = Int(byte(x, 2 &+ 8 &* ib &+ 2 &* l)) | ((qh << (8 &- 2 &* l)) & 256)
                    let index2 = Int(byte(x, 2 &+ 8 &* ib &+ 2 &* l &+ 1)) | ((qh << (7 &- 2 &* l)) & 256)
                    let point1 = grid + index1 &* 4, point2 = grid + index2 &* 4
                    let signs = byte(x, 74 &+ 4 &* ib &+ l)
                    let out = y + (32 &* ib &+ 8 &* l)
                    for j in 0..<4 {
                        out[j] = db * Float(point1[j]) * sign(signs, j)
                        out[j &+ 4] = db * Float(point2[j]) * sign(signs, j &+ 4)
                    }
                }
            }
        }
    }

    /// IQ1_S (50 bytes): `d`, 32 index bytes, then per 32 elements a 16-bit
    /// word (3 high bits per group, 3-bit scale `2s + 1`, delta sign).
    @inline(__always)
    static func iq1_S(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let grid = IQValueGrid.iq1s.values
        let d = HalfPrecision.loadFloat16(x, 0)
        for ib in 0..<8 {
            let qh = word16(x, 34 &+ 2 &* ib)
            let dl = d * Float(2 &* Int32((qh >> 12) & 7) &+ 1)
            let delta: Float = qh & 0x8000 != 0 ? -Quantize.iq1Delta : Quantize.iq1Delta
            for l in 0..<4 {
                let index = Int(byte(x, 2 &+ 4 &* ib &+ l)) | (Int((qh >> UInt16(3 &* l)) & 7) << 8)
                let point = grid + index &* 8
                let out = y + (32 &* ib &+ 8 &* l)
                for j in 0..<8 { out[j] = dl * (Float(point[j]) + delta) }
            }
        }
    }

    /// IQ1_M (56 bytes): 32 index bytes, per 16 elements a byte of two
    /// 3-bit high index parts and two delta signs, four words of 3-bit
    /// scales whose top nibbles hold the f16 scale.
    @inline(__always)
    static func iq1_M(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let grid = IQValueGrid.iq1s.values
        let sc = SIMD4<UInt16>(word16(x, 48), word16(x, 50), word16(x, 52), word16(x, 54))
        let bits = (sc[0] >> 12) | ((sc[1] >> 8) & 0x00F0) | ((sc[2] >> 4) & 0x0F00) | (sc[3] & 0xF000)
        let d = HalfPrecision.float(float16Bits: bits)
        for ib in 0..<8 {
            let s = sc[ib / 2] >> UInt16(6 &* (ib % 2))
            let dl1 = d * Float(2 &* Int32(s & 7) &+ 1)
            let dl2 = d * Float(2 &* Int32((s >> 3) & 7) &+ 1)
            let qh0 = Int(byte(x, 32 &+ 2 &* ib)), qh1 = Int(byte(x, 32 &+ 2 &* ib &+ 1))
            let qs = 4 &* ib
            let index = SIMD4<Int>(
                Int(byte(x, qs)) | ((qh0 << 8) & 0x700), Int(byte(x, qs &+ 1)) | ((qh0 << 4) & 0x700),
                Int(byte(x, qs &+ 2)) | ((qh1 << 8) & 0x700), Int(byte(x, qs &+ 3)) | ((qh1 << 4) & 0x700))
            let negative = SIMD4<Int>(qh0 & 0x08, qh0 & 0x80, qh1 & 0x08, qh1 & 0x80)
            for l in 0..<4 {
                let delta: Float = negative[l] != 0 ? -Quantize.iq1Delta : Quantize.iq1Delta
                let dl = l < 2 ? dl1 : dl2
                let point = grid + index[l] &* 8
                let out = y + (32 &* ib &+ 8 &* l)
                for j in 0..<8 { out[j] = dl * (Float(point[j]) + delta) }
            }
        }
    }
}

/// The value grid of one IQ type as ggml-common.h holds it (`iq2xxs_grid`
/// ... `iq1s_grid`): each codebook point with coordinate `l` replaced by
/// `levels[l]`. Built once on first use, never freed.
final class IQValueGrid: @unchecked Sendable {
    /// `codes.count * dimensions` values.
    let values: UnsafePointer<Int8>

    init(codes: [UInt16], bits: Int, dimensions: Int, levels: [Int8]) {
        let values = UnsafeMutablePointer<Int8>.allocate(capacity: codes.count * dimensions)
        for (k, code) in codes.enumerated() {
            for i in 0..<dimensions {
                values[k * dimensions + i] = levels[Int(code >> UInt16(bits * i)) & ((1 << bits) - 1)]
            }
        }
        self.values = UnsafePointer(values)
    }

    static let iq2xxs = IQValueGrid(codes: IQGridCodes.iq2xxsCodes, bits: 2, dimensions: 8, levels: [0x08, 0x19, 0x2B, 0])
    static let iq2xs = IQValueGrid(codes: IQGridCodes.iq2xsCodes, bits: 2, dimensions: 8, levels: [0x08, 0x19, 0x2B, 0])
    static let iq2s = IQValueGrid(codes: IQGridCodes.iq2sCodes, bits: 2, dimensions: 8, levels: [0x08, 0x19, 0x2B, 0])
    static let iq3xxs = IQValueGrid(
        codes: IQGridCodes.iq3xxsCodes, bits: 3, dimensions: 4, levels: [0x04, 0x0C, 0x14, 0x1C, 0x24, 0x2C, 0x34, 0x3E])
    static let iq3s = IQValueGrid(codes: IQGridCodes.iq3sCodes, bits: 3, dimensions: 4, levels: [1, 3, 5, 7, 9, 11, 13, 15])
    static let iq1s = IQValueGrid(codes: IQGridCodes.iq1sCodes, bits: 2, dimensions: 8, levels: [-1, 0, 1, 0])
}
