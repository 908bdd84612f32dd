/// Quantization to IQ4_NL and IQ4_XS, ported from ggml's `quantize_iq4_nl`,
/// `quantize_iq4_xs` and their common `quantize_row_iq4_nl_impl`, with or
/// without an importance matrix (ggml-quants.c), byte-identical with them.
/// These, with a scale search of `ntry = 7`, are what `ggml_quantize_chunk`
/// and `llama-quantize` call; `quantize_row_iq4_nl_ref` (`ntry = -1`) is not.
extension Quantize {
    private typealias Near = BlockQuantization

    /// ggml's `kvalues_iq4nl` as floats (exact), the values C compares
    /// against after promoting the `int8_t` table.
    @inline(__always)
    static var iq4NonLinearFloats: SIMD16<Float> { SIMD16<Float>(Near.iq4NonLinearValues) }

    /// `best_index_int8(16, kvalues_iq4nl, x)`: the index of the table value
    /// nearest to `x` by bisection, the upper one on ties (and 15 for NaN).
    @inline(__always)
    static func nearestNonLinearIndex(_ x: Float, _ values: SIMD16<Float>) -> UInt8 {
        if x <= values[0] { return 0 }
        if x >= values[15] { return 15 }
        var ml = 0
        var mu = 15
        while mu &- ml > 1 {
            let mav = (ml &+ mu) / 2
            if x < values[mav] { mu = mav } else { ml = mav }
        }
        return UInt8(truncatingIfNeeded: x - values[mu &- 1] < values[mu] - x ? mu &- 1 : mu)
    }

    /// The scale of one 32-element sub-block: the loop body over `ib` of
    /// `quantize_row_iq4_nl_impl` with `ntry = 7`, weights x² without an
    /// importance matrix or `weights` with one, a first guess `max / 127`
    /// refined over the 15 candidates `(itry - 127) / max`. Both callers
    /// recompute the indices from the scale, so the ones picked here are not kept.
    @inline(__always)
    static func nonLinearScale(_ x: UnsafePointer<Float>, _ values: SIMD16<Float>, weights: UnsafePointer<Float>? = nil) -> Float {
        var amax: Float = 0
        var max: Float = 0
        for j in 0..<32 {
            let ax = x[j].magnitude
            if ax > amax {
                amax = ax
                max = x[j]
            }
        }
        if amax < Near.groupMaxEpsilon { return 0 }
        var d = -max / values[0]
        var id = 1 / d
        var sumqx: Float = 0
        var sumq2: Float = 0
        for j in 0..<32 {
            let q = values[Int(nearestNonLinearIndex(id * x[j], values))]
            let w = weights?[j] ?? x[j] * x[j]
            sumqx += w * q * x[j]
            sumq2 += w * q * q
        }
        d = sumq2 > 0 ? sumqx / sumq2 : 0
        var best = d * sumqx
        for itry in -7...7 {
            id = Float(itry &+ Int(Near.iq4NonLinearValues[0])) / max
            sumqx = 0
            sumq2 = 0
            for j in 0..<32 {
                let q = values[Int(nearestNonLinearIndex(id * x[j], values))]
                let w = weights?[j] ?? x[j] * x[j]
                sumqx += w * q * x[j]
                sumq2 += w * q * q
            }
            if sumq2 > 0 && sumqx * sumqx > best * sumq2 {
                d = sumqx / sumq2
                best = d * sumqx
            }
        }
        return d
    }

    /// `quantize_iq4_nl` (`quantize_row_iq4_nl_impl(32, 32, ..., ntry: 7)`):
    /// `d` (f16), 16 bytes of indices into `kvalues_iq4nl`.
    @inline(__always)
    static func iq4_NL(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        iq4_NL(x, y, importance: nil)
    }

    /// `quantize_iq4_nl` for one block, with the importance of its columns
    /// when given (weights `qw[j] * sqrt(sigma2 + x[j]^2)`, `sigma2` twice the
    /// block's mean square).
    @inline(__always)
    static func iq4_NL(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, importance qw: UnsafePointer<Float>?) {
        let values = iq4NonLinearFloats
        let scale: Float
        if let qw {
            scale = withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { buffer in
                let weight = buffer.baseAddress!
                importanceWeights(x, qw, sigma2: nonLinearSigma2(x, 32), 32, into: weight)
                return nonLinearScale(x, values, weights: weight)
            }
        } else {
            scale = nonLinearScale(x, values)
        }
        HalfPrecision.storeFloat16(scale, y, 0)
        let id: Float = scale != 0 ? 1 / scale : 0
        for j in 0..<16 {
            let l0 = nearestNonLinearIndex(id * x[j], values)
            let l1 = nearestNonLinearIndex(id * x[16 &+ j], values)
            store(l0 | (l1 << 4), y, 2 &+ j)
        }
    }

    /// `quantize_iq4_xs` (`quantize_row_iq4_nl_impl(256, 32, ..., ntry: 7)`):
    /// `d` (f16), the high 2 bits of eight 6-bit sub-block scales, their low
    /// nibbles, 128 bytes of indices into `kvalues_iq4nl`.
    @inline(__always)
    static func iq4_XS(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        iq4_XS(x, y, importance: nil)
    }

    /// `quantize_iq4_xs` for one super-block, with the importance of its
    /// columns when given (`sigma2` twice the super-block's mean square).
    @inline(__always)
    static func iq4_XS(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, importance qw: UnsafePointer<Float>?) {
        let values = iq4NonLinearFloats
        var scales = SIMD8<Float>()
        var maxScale: Float = 0
        var amaxScale: Float = 0
        let sigma2 = qw == nil ? 0 : nonLinearSigma2(x, 256)
        for ib in 0..<8 {
            let scale: Float
            if let qw {
                scale = withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { buffer in
                    let weight = buffer.baseAddress!
                    importanceWeights(x + 32 &* ib, qw + 32 &* ib, sigma2: sigma2, 32, into: weight)
                    return nonLinearScale(x + 32 &* ib, values, weights: weight)
                }
            } else {
                scale = nonLinearScale(x + 32 &* ib, values)
            }
            scales[ib] = scale
            if scale.magnitude > amaxScale {
                amaxScale = scale.magnitude
                maxScale = scale
            }
        }
        let d = -maxScale / 32
        HalfPrecision.storeFloat16(d, y, 0)
        let id: Float = d != 0 ? 1 / d : 0
        var scalesHigh: UInt16 = 0
        var scalesLow = SIMD4<UInt8>()
        for ib in 0..<8 {
            let l = Swift.max(-32, Swift.min(31, Near.nearestInt(id * scales[ib])))
            let dl = d * Float(l)
            let idl: Float = dl != 0 ? 1 / dl : 0
            let xb = x + 32 &* ib
            for j in 0..<16 {
                let l0 = nearestNonLinearIndex(idl * xb[j], values)
                let l1 = nearestNonLinearIndex(idl * xb[16 &+ j], values)
                store(l0 | (l1 << 4), y, 8 &+ 16 &* ib &+ j)
            }
            let ls = UInt8(truncatingIfNeeded: l &+ 32)
            scalesLow[ib / 2] |= (ls & 0xF) << UInt8(4 &* (ib % 2))
            scalesHigh |= UInt16(ls >> 4) << UInt16(2 &* ib)
        }
        y.storeBytes(of: scalesHigh.littleEndian, toByteOffset: 2, as: UInt16.self)
        for i in 0..<4 { store(scalesLow[i], y, 4 &+ i) }
    }

    /// `sigma2` of `quantize_row_iq4_nl_impl`: the sum of squares in order,
    /// times `2 / n`.
    @inline(__always)
    static func nonLinearSigma2(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var sigma2: Float = 0
        for j in 0..<n { sigma2 += x[j] * x[j] }
        return sigma2 * (2 / Float(n))
    }
}
