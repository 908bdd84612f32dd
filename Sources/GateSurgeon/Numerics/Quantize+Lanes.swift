/// ggml's scale searches `make_qkx2_quants` and `make_qx_quants` for eight
/// sub-blocks at once, one sub-block per SIMD lane. Each lane performs exactly
/// the C code's float operations in the same order (sequential sums, the same
/// rounding, branches turned into per-lane selects), so every lane is
/// bit-identical with one call of the C function; the lanes only hide the
/// latency of those sequential sums, which bound the scalar code.
extension Quantize {
    typealias Lanes = SIMD8<Float>
    typealias IntLanes = SIMD8<Int32>

    /// ggml's `nearest_int` in each lane.
    @inline(__always)
    static func nearestInt(_ x: Lanes) -> IntLanes {
        let shifted = x + Lanes(repeating: 12_582_912)
        return unsafeBitCast(unsafeBitCast(shifted, to: SIMD8<UInt32>.self) & 0x007F_FFFF, to: IntLanes.self) &- 0x0040_0000
    }

    @inline(__always)
    static func magnitude(_ x: Lanes) -> Lanes {
        unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: Lanes.self)
    }

    /// Eight `make_qkx2_quants(n, nmax, x_j, w_j, L_j, ...)` calls side by
    /// side: `x[i][j]` and `w[i][j]` are element `i` of sub-block `j`; `L`
    /// gets the quants the same way. Returns each lane's scale and `the_min`.
    /// `nstep` must be at least 1 (true of every caller).
    @inline(__always)
    static func makeQKX2Quants(
        lanes n: Int, _ nmax: Int32, _ x: UnsafePointer<Lanes>, _ weights: UnsafePointer<Lanes>,
        _ L: UnsafeMutablePointer<IntLanes>, _ Laux: UnsafeMutablePointer<IntLanes>,
        rmin: Float, rdelta: Float, nstep: Int, useMAD: Bool
    ) -> (scale: Lanes, min: Lanes) {
        var min = x[0]
        var max = x[0]
        var sumW = weights[0]
        var sumX = sumW * x[0]
        for i in 1..<n {
            min.replace(with: x[i], where: x[i] .< min)
            max.replace(with: x[i], where: x[i] .> max)
            let w = weights[i]
            sumW += w
            sumX += w * x[i]
        }
        min.replace(with: 0, where: min .> 0)
        let flat = max .== min
        let zero = IntLanes(repeating: 0)
        let top = IntLanes(repeating: nmax)
        @inline(__always) func clamped(_ l: IntLanes) -> IntLanes { l.clamped(lowerBound: zero, upperBound: top) }
        @inline(__always) func error(_ diff: Lanes) -> Lanes { useMAD ? magnitude(diff) : diff * diff }
        var iscale = Lanes(repeating: Float(nmax)) / (max - min)
        var scale = 1 / iscale
        var bestError = Lanes(repeating: 0)
        for i in 0..<n {
            let l = clamped(nearestInt(iscale * (x[i] - min)))
            L[i] = l
            let diff = scale * Lanes(l) + min - x[i]
            bestError += weights[i] * error(diff)
        }
        for step in 0...nstep {
            iscale = Lanes(repeating: rmin + rdelta * Float(step) + Float(nmax)) / (max - min)
            var sumL = Lanes(repeating: 0)
            var sumL2 = Lanes(repeating: 0)
            var sumXL = Lanes(repeating: 0)
            for i in 0..<n {
                let l = clamped(nearestInt(iscale * (x[i] - min)))
                Laux[i] = l
                let w = weights[i]
                let lf = Lanes(l)
                sumL += w * lf
                sumL2 += w * lf * lf
                sumXL += w * lf * x[i]
            }
            let D = sumW * sumL2 - sumL * sumL
            let solvable = D .> 0
            if !any(solvable) { continue }
            var thisScale = (sumW * sumXL - sumX * sumL) / D
            var thisMin = (sumL2 * sumX - sumL * sumXL) / D
            let positiveMin = thisMin .> 0
            thisMin.replace(with: 0, where: positiveMin)
            thisScale.replace(with: sumXL / sumL2, where: positiveMin)
            var curError = Lanes(repeating: 0)
            for i in 0..<n {
                let diff = thisScale * Lanes(Laux[i]) + thisMin - x[i]
                curError += weights[i] * error(diff)
            }
            let better = solvable .& (curError .< bestError) .& .!flat
            if !any(better) { continue }
            for i in 0..<n { L[i].replace(with: Laux[i], where: better) }
            bestError.replace(with: curError, where: better)
            scale.replace(with: thisScale, where: better)
            min.replace(with: thisMin, where: better)
        }
        for i in 0..<n { L[i].replace(with: 0, where: flat) }
        scale.replace(with: 0, where: flat)
        return (scale, -min)
    }
}

extension Quantize {
    /// Eight `make_qx_quants(n, nmax, x_j, L_j, rmse_type: 1, qw_j)` calls
    /// side by side, lane `j` being sub-block `j`: weights `qw` when given
    /// (laid out like `x`), otherwise x² (`qw == NULL`). `L` gets
    /// `l + nmax`; returns each lane's scale.
    @inline(__always)
    static func makeQXQuants(
        lanes n: Int, _ nmax: Int32, _ x: UnsafePointer<Lanes>, _ L: UnsafeMutablePointer<IntLanes>,
        weights: UnsafePointer<Lanes>? = nil
    ) -> Lanes {
        var max = Lanes(repeating: 0)
        var amax = Lanes(repeating: 0)
        for i in 0..<n {
            let ax = magnitude(x[i])
            let larger = ax .> amax
            amax.replace(with: ax, where: larger)
            max.replace(with: x[i], where: larger)
        }
        let allZero = amax .< Lanes(repeating: BlockQuantization.groupMaxEpsilon)
        let low = IntLanes(repeating: -nmax)
        let high = IntLanes(repeating: nmax &- 1)
        let offset = IntLanes(repeating: nmax)
        @inline(__always) func clamped(_ l: IntLanes) -> IntLanes { l.clamped(lowerBound: low, upperBound: high) }
        var iscale = Lanes(repeating: Float(-nmax)) / max
        var sumlx = Lanes(repeating: 0)
        var suml2 = Lanes(repeating: 0)
        for i in 0..<n {
            let l = clamped(nearestInt(iscale * x[i]))
            L[i] = l &+ offset
            let w = weights?[i] ?? x[i] * x[i]
            let lf = Lanes(l)
            sumlx += w * x[i] * lf
            suml2 += w * lf * lf
        }
        var scale = sumlx / suml2
        scale.replace(with: 0, where: suml2 .== 0)
        var best = scale * sumlx
        for step in -9...9 where step != 0 {
            iscale = Lanes(repeating: -(Float(nmax) + 0.1 * Float(step))) / max
            sumlx = Lanes(repeating: 0)
            suml2 = Lanes(repeating: 0)
            for i in 0..<n {
                let lf = Lanes(clamped(nearestInt(iscale * x[i])))
                let w = weights?[i] ?? x[i] * x[i]
                sumlx += w * x[i] * lf
                suml2 += w * lf * lf
            }
            let better = (suml2 .> 0) .& (sumlx * sumlx .> best * suml2) .& .!allZero
            if !any(better) { continue }
            for i in 0..<n {
                L[i].replace(with: offset &+ clamped(nearestInt(iscale * x[i])), where: better)
            }
            scale.replace(with: sumlx / suml2, where: better)
            best.replace(with: scale * sumlx, where: better)
        }
        for i in 0..<n { L[i].replace(with: 0, where: allZero) }
        scale.replace(with: 0, where: allZero)
        return scale
    }
}
