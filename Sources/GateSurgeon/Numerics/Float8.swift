/// 8-bit float kernels: F8_E4M3 (`float8_e4m3fn`: bias 7, no infinity,
/// `S.1111.111` is NaN) and F8_E5M2 (bias 15, IEEE-like) to and from F32.
///
/// Bit-exact with torch's CPU casts (`.to(torch.float32)`,
/// `.to(torch.float8_e4m3fn)`, `.to(torch.float8_e5m2)`), NaN bits included:
/// - E4M3 -> F32: NaN becomes `sign | 0x7FF00000` (c10's conversion formula).
/// - E5M2 -> F32: as the half `byte << 8` (quiet bit set, payload kept).
/// - F32 -> E4M3: round to nearest even, magnitudes above 464 (infinities
///   included) saturate to ±448; NaN becomes `sign | 0x7F`.
/// - F32 -> E5M2: round to nearest even, overflow to ±infinity; NaN becomes `sign | 0x7F`.
enum Float8 {
    /// The F32 value of an E4M3FN byte.
    @inline(__always)
    static func float(e4m3 byte: UInt8) -> Float {
        let sign = UInt32(byte & 0x80) << 24
        let magnitude = UInt32(byte & 0x7F)
        let result: UInt32
        if magnitude == 0x7F {
            result = 0x7FF0_0000
        } else if magnitude >= 0x08 {
            result = (magnitude << 20) &+ (120 << 23)
        } else {
            result = (Float(magnitude) * 0x1p-9).bitPattern
        }
        return Float(bitPattern: sign | result)
    }

    /// The F32 value of an E5M2 byte.
    @inline(__always)
    static func float(e5m2 byte: UInt8) -> Float {
        HalfPrecision.float(float16Bits: UInt16(byte) << 8)
    }

    /// Rounds `x` to E4M3FN, saturating at ±448.
    @inline(__always)
    static func e4m3(_ x: Float) -> UInt8 {
        let bits = x.bitPattern
        let sign = UInt8(truncatingIfNeeded: (bits >> 24) & 0x80)
        let magnitude = bits & 0x7FFF_FFFF
        let result: UInt32
        if magnitude > 0x7F80_0000 {
            result = 0x7F
        } else if magnitude > 0x43E8_0000 {
            result = 0x7E  // above 464 (the tie between 448 and the NaN code)
        } else if magnitude >= 121 << 23 {
            let odd = (magnitude >> 20) & 1
            result = (magnitude &+ (0 &- (120 << 23)) &+ 0x7_FFFF &+ odd) >> 20
        } else {
            // Subnormal E4M3 (unit 2^-9): adding 2^14 makes the FPU round at that unit.
            result = (Float(bitPattern: magnitude) + 0x1p14).bitPattern &- (141 << 23)
        }
        return sign | UInt8(truncatingIfNeeded: result)
    }

    /// Rounds `x` to E5M2, overflowing to ±infinity.
    @inline(__always)
    static func e5m2(_ x: Float) -> UInt8 {
        let bits = x.bitPattern
        let sign = UInt8(truncatingIfNeeded: (bits >> 24) & 0x80)
        let magnitude = bits & 0x7FFF_FFFF
        let result: UInt32
        if magnitude >= 0x4780_0000 {
            result = magnitude > 0x7F80_0000 ? 0x7F : 0x7C
        } else if magnitude >= 113 << 23 {
            let odd = (magnitude >> 21) & 1
            result = (magnitude &+ (0 &- (112 << 23)) &+ 0xF_FFFF &+ odd) >> 21
        } else {
            // Subnormal E5M2 (unit 2^-16): adding 2^7 makes the FPU round at that unit.
            result = (Float(bitPattern: magnitude) + 0x1p7).bitPattern &- (134 << 23)
        }
        return sign | UInt8(truncatingIfNeeded: result)
    }

    /// Decodes `count` bytes of `format` (E4M3 when `e4m3`, else E5M2).
    static func decode(_ source: UnsafeRawPointer, e4m3: Bool, into destination: UnsafeMutablePointer<Float>, count: Int) {
        let bytes = source.assumingMemoryBound(to: UInt8.self)
        ParallelChunks.forEach(count: count, grain: HalfPrecision.grain) { range in
            if e4m3 {
                for i in range { destination[i] = float(e4m3: bytes[i]) }
            } else {
                for i in range { destination[i] = float(e5m2: bytes[i]) }
            }
        }
    }

    /// Encodes `count` floats; returns how many finite inputs became infinite
    /// (E5M2) or were clamped to ±448 (E4M3).
    static func encode(_ source: UnsafePointer<Float>, e4m3: Bool, into destination: UnsafeMutableRawPointer, count: Int) -> Int {
        let bytes = destination.assumingMemoryBound(to: UInt8.self)
        return HalfPrecision.countingOverflow(count: count) { range in
            var overflowed = 0
            if e4m3 {
                for i in range {
                    let x = source[i]
                    bytes[i] = Float8.e4m3(x)
                    overflowed &+= (x.isFinite && x.magnitude > 464) ? 1 : 0
                }
            } else {
                for i in range {
                    let x = source[i]
                    let byte = Float8.e5m2(x)
                    bytes[i] = byte
                    overflowed &+= (byte & 0x7F == 0x7C && x.isFinite) ? 1 : 0
                }
            }
            return overflowed
        }
    }
}
