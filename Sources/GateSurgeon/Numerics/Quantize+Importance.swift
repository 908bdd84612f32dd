/// Quantization with an importance matrix: ports of the `quant_weights`
/// paths of ggml-quants.c (`quantize_row_q4_0_impl`, `quantize_row_q4_1_impl`,
/// `quantize_row_q5_0_impl`, `quantize_row_q5_1_impl`,
/// `quantize_row_q{2..6}_K_impl`) and of their helpers `make_qx_quants`,
/// `make_qkx3_quants` and `make_qp_quants` with weights, byte-identical with
/// `ggml_quantize_chunk(type, ..., imatrix)`.
///
/// `qw` points at the importance of the block's first column (ggml passes
/// the same vector, offset by column, for every row). The weights are
/// `qw[j] * sqrt(sigma2 + x[j]^2)`, with `sigma2` the mean square of the
/// 256-element super-block (doubled for Q3_K..Q5_K) or, for the 32-element
/// types, of the whole row (`rowSigma2`, `Quantize.rowMeanSquare`); Q6_K
/// uses `qw` itself. Q8_0 ignores the importance (as ggml does).
extension Quantize {
    private typealias Near = BlockQuantization

    // MARK: Scalar scale searches with weights

    /// `make_qx_quants(n, nmax, x, L, rmse_type: 1, qw)`: `L` gets `l + nmax`.
    @inline(__always)
    static func makeQXQuants(
        _ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>, weights qw: UnsafePointer<Float>
    ) -> Float {
        var max: Float = 0
        var amax: Float = 0
        for i in 0..<n {
            let ax = x[i].magnitude
            if ax > amax {
                amax = ax
                max = x[i]
            }
        }
        if amax < Near.groupMaxEpsilon {
            for i in 0..<n { L[i] = 0 }
            return 0
        }
        @inline(__always) func clamped(_ l: Int32) -> Int32 { Swift.max(-nmax, Swift.min(nmax &- 1, l)) }
        var iscale = Float(-nmax) / max
        var sumlx: Float = 0
        var suml2: Float = 0
        for i in 0..<n {
            let l = clamped(Near.nearestInt(iscale * x[i]))
            L[i] = Int8(truncatingIfNeeded: l &+ nmax)
            let w = qw[i]
            sumlx += w * x[i] * Float(l)
            suml2 += w * Float(l) * Float(l)
        }
        var scale: Float = suml2 != 0 ? sumlx / suml2 : 0
        var best = scale * sumlx
        for step in -9...9 where step != 0 {
            iscale = -(Float(nmax) + 0.1 * Float(step)) / max
            sumlx = 0
            suml2 = 0
            for i in 0..<n {
                let l = Float(clamped(Near.nearestInt(iscale * x[i])))
                let w = qw[i]
                sumlx += w * x[i] * l
                suml2 += w * l * l
            }
            if suml2 > 0 && sumlx * sumlx > best * suml2 {
                for i in 0..<n {
                    L[i] = Int8(truncatingIfNeeded: nmax &+ clamped(Near.nearestInt(iscale * x[i])))
                }
                scale = sumlx / suml2
                best = scale * sumlx
            }
        }
        return scale
    }

    /// `make_qkx3_quants(n, nmax, x, weights, L, &the_min, Laux, rmin, rdelta, nstep, use_mad: false)`
    /// with weights: returns the scale and `the_min`.
    @inline(__always)
    static func makeQKX3Quants(
        _ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
        _ L: UnsafeMutablePointer<UInt8>, _ Laux: UnsafeMutablePointer<UInt8>, rmin: Float, rdelta: Float, nstep: Int
    ) -> (scale: Float, min: Float) {
        var min = x[0]
        var max = x[0]
        var sumW = weights[0]
        var sumX = sumW * x[0]
        for i in 1..<n {
            if x[i] < min { min = x[i] }
            if x[i] > max { max = x[i] }
            let w = weights[i]
            sumW += w
            sumX += w * x[i]
        }
        if min > 0 { min = 0 }
        if max <= min {
            for i in 0..<n { L[i] = 0 }
            return (0, -min)
        }
        @inline(__always) func clamped(_ l: Int32) -> Int32 { Swift.max(0, Swift.min(nmax, l)) }
        var iscale = Float(nmax) / (max - min)
        var scale = 1 / iscale
        var bestMAD: Float = 0
        for i in 0..<n {
            let l = clamped(Near.nearestInt(iscale * (x[i] - min)))
            L[i] = UInt8(truncatingIfNeeded: l)
            let diff = scale * Float(l) + min - x[i]
            bestMAD += weights[i] * (diff * diff)
        }
        for step in 0...nstep {
            iscale = (rmin + rdelta * Float(step) + Float(nmax)) / (max - min)
            var sumL: Float = 0
            var sumL2: Float = 0
            var sumXL: Float = 0
            for i in 0..<n {
                let l = clamped(Near.nearestInt(iscale * (x[i] - min)))
                Laux[i] = UInt8(truncatingIfNeeded: l)
                let w = weights[i]
                let lf = Float(l)
                sumL += w * lf
                sumL2 += w * lf * lf
                sumXL += w * lf * x[i]
            }
            let D = sumW * sumL2 - sumL * sumL
            if D > 0 {
                var thisScale = (sumW * sumXL - sumX * sumL) / D
                var thisMin = (sumL2 * sumX - sumL * sumXL) / D
                if thisMin > 0 {
                    thisMin = 0
                    thisScale = sumXL / sumL2
                }
                var mad: Float = 0
                for i in 0..<n {
                    let diff = thisScale * Float(Laux[i]) + thisMin - x[i]
                    mad += weights[i] * (diff * diff)
                }
                if mad < bestMAD {
                    for i in 0..<n { L[i] = Laux[i] }
                    bestMAD = mad
                    scale = thisScale
                    min = thisMin
                }
            }
        }
        return (scale, -min)
    }

    /// `make_qp_quants(n, nmax, x, L, quant_weights)`: a positive scale for
    /// non-negative `x` (the sub-block scales and mins), quants in `0...nmax`
    /// stored as C's `uint8_t` stores them.
    @inline(__always)
    static func makeQPQuants(
        _ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<UInt8>, weights qw: UnsafePointer<Float>
    ) -> Float {
        var max: Float = 0
        for i in 0..<n { max = max > x[i] ? max : x[i] }  // MAX(max, x[i])
        if max < Near.groupMaxEpsilon {
            for i in 0..<n { L[i] = 0 }
            return 0
        }
        var iscale = Float(nmax) / max
        for i in 0..<n { L[i] = UInt8(truncatingIfNeeded: Near.nearestInt(iscale * x[i])) }
        let scale = 1 / iscale
        var bestMSE: Float = 0
        for i in 0..<n {
            let diff = x[i] - scale * Float(L[i])
            bestMSE += qw[i] * diff * diff
        }
        for step in -4...4 where step != 0 {
            let iscaleStep = (0.1 * Float(step) + Float(nmax)) / max
            let scaleStep = 1 / iscaleStep
            var mse: Float = 0
            for i in 0..<n {
                let l = Swift.min(nmax, Near.nearestInt(iscaleStep * x[i]))
                let diff = x[i] - scaleStep * Float(l)
                mse += qw[i] * diff * diff
            }
            if mse < bestMSE {
                bestMSE = mse
                iscale = iscaleStep
            }
        }
        var sumlx: Float = 0
        var suml2: Float = 0
        for i in 0..<n {
            let l = Swift.min(nmax, Near.nearestInt(iscale * x[i]))
            L[i] = UInt8(truncatingIfNeeded: l)
            let w = qw[i]
            sumlx += w * x[i] * Float(l)
            suml2 += w * Float(l) * Float(l)
        }
        for _ in 0..<5 {
            var changed = 0
            for i in 0..<n {
                let w = qw[i]
                let li = Float(L[i])
                var slx = sumlx - w * x[i] * li
                var sl2 = suml2 - w * li * li
                if slx > 0 && sl2 > 0 {
                    let newL = Swift.min(nmax, Near.nearestInt(x[i] * sl2 / slx))
                    if newL != Int32(L[i]) {
                        slx += w * x[i] * Float(newL)
                        sl2 += w * Float(newL) * Float(newL)
                        if slx * slx * suml2 > sumlx * sumlx * sl2 {
                            L[i] = UInt8(truncatingIfNeeded: newL)
                            sumlx = slx
                            suml2 = sl2
                            changed &+= 1
                        }
                    }
                }
            }
            if changed == 0 { break }
        }
        return suml2 > 0 ? sumlx / suml2 : 0
    }

    // MARK: 32-element types

    /// `sum_x2 / n_per_row`: the mean square of a whole row, summed in
    /// order, which the 32-element types' weights use.
    @inline(__always)
    static func rowMeanSquare(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var sum: Float = 0
        for j in 0..<n { sum += x[j] * x[j] }
        return sum / Float(n)
    }

    /// The weights `qw[j] * sqrtf(sigma2 + x[j]*x[j])` of `n` elements.
    @inline(__always)
    static func importanceWeights(
        _ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>, sigma2: Float, _ n: Int, into weight: UnsafeMutablePointer<Float>
    ) {
        for j in 0..<n { weight[j] = qw[j] * (sigma2 + x[j] * x[j]).squareRoot() }
    }

    /// The body of `quantize_row_q4_0_impl` for one block.
    @inline(__always)
    static func q4_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, importance qw: UnsafePointer<Float>, rowSigma2: Float) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { weights in
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: 32) { levels in
                let weight = weights.baseAddress!, L = levels.baseAddress!
                importanceWeights(x, qw, sigma2: rowSigma2, 32, into: weight)
                let d = makeQXQuants(32, 8, x, L, weights: weight)
                HalfPrecision.storeFloat16(d, y, 0)
                for j in 0..<16 {
                    store(UInt8(bitPattern: L[j]) | (UInt8(bitPattern: L[j &+ 16]) << 4), y, 2 &+ j)
                }
            }
        }
    }

    /// The body of `quantize_row_q5_0_impl` for one block.
    @inline(__always)
    static func q5_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, importance qw: UnsafePointer<Float>, rowSigma2: Float) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { weights in
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: 32) { levels in
                let weight = weights.baseAddress!, L = levels.baseAddress!
                importanceWeights(x, qw, sigma2: rowSigma2, 32, into: weight)
                let d = makeQXQuants(32, 16, x, L, weights: weight)
                HalfPrecision.storeFloat16(d, y, 0)
                var qh: UInt32 = 0
                for j in 0..<16 {
                    let xi0 = UInt8(bitPattern: L[j]), xi1 = UInt8(bitPattern: L[j &+ 16])
                    store((xi0 & 0x0F) | ((xi1 & 0x0F) << 4), y, 6 &+ j)
                    qh |= (UInt32(xi0 & 0x10) >> 4) << UInt32(j)
                    qh |= (UInt32(xi1 & 0x10) >> 4) << UInt32(j &+ 16)
                }
                y.storeBytes(of: qh.littleEndian, toByteOffset: 2, as: UInt32.self)
            }
        }
    }

    /// The bodies of `quantize_row_q4_1_impl` (`nmax` 15) and
    /// `quantize_row_q5_1_impl` (`nmax` 31) for one block.
    @inline(__always)
    static func q4_1OrQ5_1(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, importance qw: UnsafePointer<Float>, rowSigma2: Float, nmax: Int32
    ) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { weights in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { levels in
                let weight = weights.baseAddress!, L = levels.baseAddress!, Laux = L + 32
                importanceWeights(x, qw, sigma2: rowSigma2, 32, into: weight)
                let (d, min) = makeQKX3Quants(32, nmax, x, weight, L, Laux, rmin: -0.9, rdelta: 0.05, nstep: 36)
                HalfPrecision.storeFloat16(d, y, 0)
                HalfPrecision.storeFloat16(-min, y, 2)
                if nmax == 15 {
                    for j in 0..<16 { store(L[j] | (L[j &+ 16] << 4), y, 4 &+ j) }
                    return
                }
                var qh: UInt32 = 0
                for j in 0..<16 {
                    let xi0 = L[j], xi1 = L[j &+ 16]
                    store((xi0 & 0x0F) | ((xi1 & 0x0F) << 4), y, 8 &+ j)
                    qh |= (UInt32(xi0 & 0x10) >> 4) << UInt32(j)
                    qh |= (UInt32(xi1 & 0x10) >> 4) << UInt32(j &+ 16)
                }
                y.storeBytes(of: qh.littleEndian, toByteOffset: 4, as: UInt32.self)
            }
        }
    }

    // MARK: K-quants

    /// `sumx2` of a 256-element super-block, summed in order.
    @inline(__always)
    static func sumOfSquares(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var sum: Float = 0
        for j in 0..<n { sum += x[j] * x[j] }
        return sum
    }

    /// Transposed importance weights of eight sub-blocks of `length`
    /// (`wt[i][j]` = weight of element `i` of sub-block `j`), and each
    /// sub-block's sum of weights in order.
    @inline(__always)
    static func importanceLanes(
        _ xt: UnsafePointer<Lanes>, _ qw: UnsafePointer<Float>, sigma2: Float, length: Int, into wt: UnsafeMutablePointer<Lanes>
    ) -> Lanes {
        var sum = Lanes(repeating: 0)
        for i in 0..<length {
            var q = Lanes()
            for j in 0..<8 { q[j] = qw[length &* j &+ i] }
            wt[i] = q * (Lanes(repeating: sigma2) + xt[i] * xt[i]).squareRoot()
            sum += wt[i]
        }
        return sum
    }

    /// `quantize_row_q2_K_impl` for one super-block.
    @inline(__always)
    static func q2_K(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, importance qw: UnsafePointer<Float>) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256 + 32) { bytes in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 48) { floats in
                let L = bytes.baseAddress!, Ls = L + 256, Lm = Ls + 16
                let mins = floats.baseAddress!, scales = mins + 16, sw = scales + 16
                let sigma2 = sumOfSquares(x, 256) / 256
                for half in 0..<2 {
                    withSubBlockLanes(x + half &* 128, length: 16, L + half &* 128) { xt, wt in
                        let sums = importanceLanes(xt, qw + half &* 128, sigma2: sigma2, length: 16, into: wt)
                        for lane in 0..<8 { sw[half &* 8 &+ lane] = sums[lane] }
                    } search: { xt, wt, Lt, Laux in
                        let (scale, min) = makeQKX2Quants(
                            lanes: 16, 3, xt, wt, Lt, Laux, rmin: -0.9, rdelta: 0.05, nstep: 36, useMAD: false)
                        for lane in 0..<8 {
                            scales[half &* 8 &+ lane] = scale[lane]
                            mins[half &* 8 &+ lane] = min[lane]
                        }
                    }
                }
                let dm = makeQPQuants(16, 15, scales, Ls, weights: sw)
                let mm = makeQPQuants(16, 15, mins, Lm, weights: sw)
                HalfPrecision.storeFloat16(dm, y, 80)
                HalfPrecision.storeFloat16(mm, y, 82)
                let packed = y.assumingMemoryBound(to: UInt8.self)
                for j in 0..<16 { packed[j] = Ls[j] | (Lm[j] << 4) }
                finishQ2K(x, y, L)
            }
        }
    }

    /// `quantize_row_q3_K_impl` for one super-block.
    @inline(__always)
    static func q3_K(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, importance qw: UnsafePointer<Float>) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256 + 16) { bytes in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { floats in
                let L = bytes.baseAddress!, Ls = L + 256
                let scales = floats.baseAddress!, sw = scales + 16
                let sigma2 = 2 * sumOfSquares(x, 256) / 256
                for half in 0..<2 {
                    withSubBlockLanes(x + half &* 128, length: 16, L + half &* 128) { xt, wt in
                        let sums = importanceLanes(xt, qw + half &* 128, sigma2: sigma2, length: 16, into: wt)
                        for lane in 0..<8 { sw[half &* 8 &+ lane] = sums[lane] }
                    } search: { xt, wt, Lt, _ in
                        let scale = makeQXQuants(lanes: 16, 4, xt, Lt, weights: wt)
                        for lane in 0..<8 { scales[half &* 8 &+ lane] = scale[lane] }
                    }
                }
                let packed = y.assumingMemoryBound(to: UInt8.self)  // hmask[32] | qs[64] | scales[12] | d
                let sc = packed + 96
                for j in 0..<12 { sc[j] = 0 }
                let dBlock = Ls.withMemoryRebound(to: Int8.self, capacity: 16) {
                    makeQXQuants(16, 32, scales, $0, weights: sw)
                }
                for j in 0..<16 {
                    var l = Ls[j]
                    if j < 8 {
                        sc[j] = l & 0xF
                    } else {
                        sc[j &- 8] |= (l & 0xF) << 4
                    }
                    l >>= 4
                    sc[j % 4 &+ 8] |= l << UInt8(2 &* (j / 4))
                }
                HalfPrecision.storeFloat16(dBlock, y, 108)
                L.withMemoryRebound(to: Int8.self, capacity: 256) { finishQ3K(x, y, $0) }
            }
        }
    }

    /// `quantize_row_q4_K_impl` (`nmax` 15) and `quantize_row_q5_K_impl`
    /// (`nmax` 31) for one super-block.
    @inline(__always)
    static func q4KOrQ5K(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, importance qw: UnsafePointer<Float>, nmax: Int32) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256 + 16) { bytes in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 24) { floats in
                let L = bytes.baseAddress!, Ls = L + 256, Lm = Ls + 8
                let mins = floats.baseAddress!, scales = mins + 8, sw = scales + 8
                let sigma2 = 2 * sumOfSquares(x, 256) / 256
                withSubBlockLanes(x, length: 32, L) { xt, wt in
                    let sums = importanceLanes(xt, qw, sigma2: sigma2, length: 32, into: wt)
                    for lane in 0..<8 { sw[lane] = sums[lane] }
                } search: { xt, wt, Lt, Laux in
                    let (scale, min) = makeQKX2Quants(
                        lanes: 32, nmax, xt, wt, Lt, Laux, rmin: -0.9, rdelta: 0.05, nstep: 36, useMAD: false)
                    for lane in 0..<8 {
                        scales[lane] = scale[lane]
                        mins[lane] = min[lane]
                    }
                }
                let dBlock = makeQPQuants(8, 63, scales, Ls, weights: sw)
                let mBlock = makeQPQuants(8, 63, mins, Lm, weights: sw)
                let sc = y.assumingMemoryBound(to: UInt8.self) + 4
                for j in 0..<8 {
                    // Q5_K clamps the 6-bit scales and mins; Q4_K stores them as they come.
                    let ls = nmax == 31 ? Swift.min(63, Ls[j]) : Ls[j]
                    let lm = nmax == 31 ? Swift.min(63, Lm[j]) : Lm[j]
                    if j < 4 {
                        sc[j] = ls
                        sc[j &+ 4] = lm
                    } else {
                        sc[j &+ 4] = (ls & 0xF) | ((lm & 0xF) << 4)
                        sc[j &- 4] |= (ls >> 4) << 6
                        sc[j] |= (lm >> 4) << 6
                    }
                }
                HalfPrecision.storeFloat16(dBlock, y, 0)
                HalfPrecision.storeFloat16(mBlock, y, 2)
                finishQ4KOrQ5K(x, y, L, nmax: nmax)
            }
        }
    }
}
