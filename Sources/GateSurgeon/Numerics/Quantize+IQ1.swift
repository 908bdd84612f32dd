/// Quantization to IQ1_S and IQ1_M: ports of ggml's `quantize_row_iq1_s_impl`
/// and `quantize_row_iq1_m_impl` (ggml-quants.c), byte-identical with
/// `ggml_quantize_chunk` for finite inputs. Values are `(q + delta)` times a
/// sub-block scale, `q` in {-1, 0, 1} from an 8-element group of the
/// 2048-point lattice (`IQLattice.iq1s`) and `delta` = ±0.125 per sub-block
/// (IQ1_S) or per group of 8 (IQ1_M). The split of each sub-block into the
/// three levels is searched exhaustively over its elements sorted by value.
///
/// The sort: ggml sorts (value, index) pairs with `qsort` comparing values
/// only; glibc's `qsort` (the reference build's) is a stable merge sort for
/// arrays this small, so equal values keep their index order, as here.
/// IQ1_S needs an importance vector; IQ1_M weighs by x² without one.
extension Quantize {
    private typealias Near = BlockQuantization

    /// IQ1S_DELTA and IQ1M_DELTA.
    static let iq1Delta: Float = 0.125

    /// The element indices of `x[0..<n]` ordered by value, equal values in index order.
    @inline(__always)
    static func stableOrder(_ x: UnsafePointer<Float>, _ n: Int, into order: UnsafeMutablePointer<Int>) {
        for j in 0..<n {
            let value = x[j]
            var k = j
            while k > 0 && x[order[k &- 1]] > value {
                order[k] = order[k &- 1]
                k &-= 1
            }
            order[k] = j
        }
    }

    /// `iq1_find_best_neighbour2`: the neighbour whose levels `xg`, scaled,
    /// are nearest to `xval` under `weight`; writes its levels to `L`.
    @inline(__always)
    static func bestIQ1Neighbour(
        _ lattice: IQLattice, _ entry: Int32, _ xval: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
        _ scale: Float, _ xg: SIMD4<Float>, _ L: UnsafeMutablePointer<Int8>
    ) -> Int {
        let list = lattice.neighbourList(entry)
        let count = Int(list[0])
        var best = Float.greatestFiniteMagnitude
        var index = -1
        var j = 1
        while j <= count {
            let point = lattice.point(Int(list[j]))
            var d2: Float = 0
            for i in 0..<8 {
                let q = xg[Int((point[i] &- 1) / 2)]
                let w = weight[i]
                let diff = scale * q - xval[i]
                d2 += w * diff * diff
            }
            if d2 < best {
                best = d2
                index = Int(list[j])
            }
            j &+= 1
        }
        // ggml's fallback over the whole grid is only reached for non-finite inputs.
        if index < 0 { index = 0 }
        let point = lattice.point(index)
        for i in 0..<8 { L[i] = (point[i] &- 1) / 2 }
        return index
    }

    /// `quantize_row_iq1_s_impl` for one super-block: `d` (f16), 32 low
    /// bytes of 11-bit grid indices, then per 32-element sub-block a 16-bit
    /// word: 3 high index bits per group, a 3-bit scale, the delta's sign.
    @inline(__always)
    static func iq1_S(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, importance qw: UnsafePointer<Float>) {
        let lattice = IQLattice.iq1s
        let bytes = y.assumingMemoryBound(to: UInt8.self)
        let xp = SIMD4<Float>(-1 + iq1Delta, iq1Delta, 1 + iq1Delta, 0)
        let xm = SIMD4<Float>(-1 - iq1Delta, -iq1Delta, 1 - iq1Delta, 0)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 8 + 32 + 33 * 2) { floats in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: 32) { orders in
                withUnsafeTemporaryAllocation(of: Int8.self, capacity: 32) { ints in
                    let scales = floats.baseAddress!, weight = scales + 8, sumx = weight + 32, sumw = sumx + 33
                    let order = orders.baseAddress!, L = ints.baseAddress!
                    var shifts = SIMD8<Int8>()
                    var qh = SIMD8<UInt16>()
                    for i in 0..<50 { bytes[i] = 0 }
                    var maxScale: Float = 0
                    let sigma2 = 2 * sumOfSquares(x, 256) / 256
                    for ib in 0..<8 {
                        let xb = x + 32 &* ib
                        importanceWeights(xb, qw + 32 &* ib, sigma2: sigma2, 32, into: weight)
                        var max = xb[0].magnitude
                        for i in 1..<32 { max = max > xb[i].magnitude ? max : xb[i].magnitude }
                        if max < 1e-12 {  // GROUP_MAX_EPS_IQ1_S
                            scales[ib] = 0
                            shifts[ib] = 1
                            continue
                        }
                        stableOrder(xb, 32, into: order)
                        sumx[0] = 0
                        sumw[0] = 0
                        for j in 0..<32 {
                            let i = order[j]
                            sumx[j &+ 1] = sumx[j] + weight[i] * xb[i]
                            sumw[j &+ 1] = sumw[j] + weight[i]
                        }
                        var bestScore = -Float.greatestFiniteMagnitude
                        var scale = max
                        var besti1 = -1, besti2 = -1, bestShift: Int8 = 0
                        for i1 in 0...32 {
                            for i2 in i1...32 {
                                var sumqx = (sumx[i1] - sumx[0]) * xp[0] + (sumx[i2] - sumx[i1]) * xp[1] + (sumx[32] - sumx[i2]) * xp[2]
                                var sumq2 = (sumw[i1] - sumw[0]) * xp[0] * xp[0] + (sumw[i2] - sumw[i1]) * xp[1] * xp[1]
                                    + (sumw[32] - sumw[i2]) * xp[2] * xp[2]
                                if sumq2 > 0 && sumqx * sumqx > bestScore * sumq2 {
                                    scale = sumqx / sumq2
                                    bestScore = scale * sumqx
                                    besti1 = i1
                                    besti2 = i2
                                    bestShift = 1
                                }
                                sumqx = (sumx[i1] - sumx[0]) * xm[0] + (sumx[i2] - sumx[i1]) * xm[1] + (sumx[32] - sumx[i2]) * xm[2]
                                sumq2 = (sumw[i1] - sumw[0]) * xm[0] * xm[0] + (sumw[i2] - sumw[i1]) * xm[1] * xm[1]
                                    + (sumw[32] - sumw[i2]) * xm[2] * xm[2]
                                if sumq2 > 0 && sumqx * sumqx > bestScore * sumq2 {
                                    scale = sumqx / sumq2
                                    bestScore = scale * sumqx
                                    besti1 = i1
                                    besti2 = i2
                                    bestShift = -1
                                }
                            }
                        }
                        if besti1 < 0 || besti2 < 0 || bestShift == 0 {
                            scales[ib] = 0
                            shifts[ib] = 1
                            continue
                        }
                        for j in 0..<32 { L[order[j]] = j < besti1 ? 0 : j < besti2 ? 1 : 2 }
                        if scale < 0 {
                            for j in 0..<32 { L[j] = 2 &- L[j] }
                            scale = -scale
                            bestShift = -bestShift
                        }
                        let xx = bestShift == 1 ? xp : xm
                        var allOnGrid = true
                        var index = SIMD4<Int32>()
                        for k in 0..<4 {
                            var entry = latticeEntry(lattice, L + 8 &* k, bits: 2)
                            if entry < 0 {
                                allOnGrid = false
                                entry = Int32(bestIQ1Neighbour(lattice, entry, xb + 8 &* k, weight + 8 &* k, scale, xx, L + 8 &* k))
                            }
                            index[k] = entry
                        }
                        if !allOnGrid {
                            var sumqx: Float = 0
                            var sumq2: Float = 0
                            for k in 0..<4 {
                                let point = lattice.point(Int(index[k]))
                                for j in 0..<8 {
                                    let w = weight[8 &* k &+ j]
                                    let q = xx[Int((point[j] &- 1) / 2)]
                                    sumqx += w * q * xb[8 &* k &+ j]
                                    sumq2 += w * q * q
                                }
                            }
                            if sumqx > 0 && sumq2 > 0 { scale = sumqx / sumq2 }
                        }
                        var h: UInt16 = 0
                        for k in 0..<4 {
                            bytes[2 &+ 4 &* ib &+ k] = UInt8(truncatingIfNeeded: index[k])
                            h |= UInt16(truncatingIfNeeded: index[k] >> 8) << UInt16(3 &* k)
                        }
                        qh[ib] = h
                        scales[ib] = scale
                        shifts[ib] = bestShift
                        maxScale = maxScale > scale ? maxScale : scale
                    }
                    if maxScale != 0 {
                        let d = maxScale / 15
                        HalfPrecision.storeFloat16(d * 1.125, y, 0)
                        let id = 1 / d
                        for ib in 0..<8 {
                            var l = UInt16(truncatingIfNeeded: scaleCode(id, scales[ib], top: 7))
                            if shifts[ib] == -1 { l |= 8 }
                            qh[ib] |= l << 12
                        }
                    }
                    for ib in 0..<8 { y.storeBytes(of: qh[ib].littleEndian, toByteOffset: 34 &+ 2 &* ib, as: UInt16.self) }
                }
            }
        }
    }

    /// `quantize_row_iq1_m_impl` for one super-block: 32 low bytes of 11-bit
    /// grid indices, per 16-element sub-block a byte of two 3-bit high index
    /// parts and two delta signs, then four 16-bit words holding sixteen 3-bit
    /// scales and, in their top nibbles, the f16 super-block scale.
    @inline(__always)
    static func iq1_M(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, importance qw: UnsafePointer<Float>?) {
        let lattice = IQLattice.iq1s
        let bytes = y.assumingMemoryBound(to: UInt8.self)
        let xp = SIMD4<Float>(-1 + iq1Delta, iq1Delta, 1 + iq1Delta, 0)
        let xm = SIMD4<Float>(-1 - iq1Delta, -iq1Delta, 1 - iq1Delta, 0)
        let masks: SIMD4<UInt8> = [0x00, 0x80, 0x08, 0x88]
        let qsStart = 0, qhStart = 32
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16 + 16 + 17 * 4) { floats in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: 16) { orders in
                withUnsafeTemporaryAllocation(of: Int8.self, capacity: 16) { ints in
                    let scales = floats.baseAddress!, weight = scales + 16
                    let px0 = weight + 16, px1 = px0 + 17, pw0 = px1 + 17, pw1 = pw0 + 17
                    let order = orders.baseAddress!, L = ints.baseAddress!
                    var shifts = SIMD16<Int8>()
                    for i in 0..<56 { bytes[i] = 0 }
                    var maxScale: Float = 0
                    let sigma2 = 2 * sumOfSquares(x, 256) / 256
                    @inline(__always) func weigh(_ xb: UnsafePointer<Float>, _ ib: Int) {
                        if let qw {
                            importanceWeights(xb, qw + 16 &* ib, sigma2: sigma2, 16, into: weight)
                        } else {
                            for i in 0..<16 { weight[i] = xb[i] * xb[i] }
                        }
                    }
                    @inline(__always) func levels(_ k: Int, _ shift: Int8) -> SIMD4<Float> {
                        k == 0 ? (shift < 2 ? xp : xm) : (shift % 2 == 0 ? xp : xm)
                    }
                    for ib in 0..<16 {
                        let xb = x + 16 &* ib
                        weigh(xb, ib)
                        var max = xb[0].magnitude
                        for i in 1..<16 { max = max > xb[i].magnitude ? max : xb[i].magnitude }
                        if max < 1e-7 {  // GROUP_MAX_EPS_IQ1_M
                            scales[ib] = 0
                            shifts[ib] = 0
                            continue
                        }
                        stableOrder(xb, 16, into: order)
                        px0[0] = 0
                        px1[0] = 0
                        pw0[0] = 0
                        pw1[0] = 0
                        for j in 0..<16 {
                            let i = order[j]
                            let wx = weight[i] * xb[i]
                            if i < 8 {
                                px0[j &+ 1] = px0[j] + wx
                                px1[j &+ 1] = px1[j]
                                pw0[j &+ 1] = pw0[j] + weight[i]
                                pw1[j &+ 1] = pw1[j]
                            } else {
                                px1[j &+ 1] = px1[j] + wx
                                px0[j &+ 1] = px0[j]
                                pw1[j &+ 1] = pw1[j] + weight[i]
                                pw0[j &+ 1] = pw0[j]
                            }
                        }
                        let txs = SIMD2<Float>(px0[16], px1[16])
                        let tws = SIMD2<Float>(pw0[16], pw1[16])
                        let p2 = xp[2], m2 = xm[2]
                        let cp1 = xp[0] * xp[0] - xp[1] * xp[1]
                        let cp2 = xp[1] * xp[1] - xp[2] * xp[2]
                        let cm1 = xm[0] * xm[0] - xm[1] * xm[1]
                        let cm2 = xm[1] * xm[1] - xm[2] * xm[2]
                        var bestScore = -Float.greatestFiniteMagnitude
                        var scale = max
                        var besti1 = -1, besti2 = -1, bestK: Int8 = -1
                        for i1 in 0...16 {
                            for i2 in i1...16 {
                                let sx = SIMD2<Float>(px0[i1] + px0[i2], px1[i1] + px1[i2])
                                let qxP = txs * p2 - sx
                                let qxM = txs * m2 - sx
                                let wi1 = SIMD2<Float>(pw0[i1], pw1[i1]), wi2 = SIMD2<Float>(pw0[i2], pw1[i2])
                                let q2P = tws * p2 * p2 + wi1 * cp1 + wi2 * cp2
                                let q2M = tws * m2 * m2 + wi1 * cm1 + wi2 * cm2
                                let sumqx = SIMD4<Float>(qxP[0] + qxP[1], qxP[0] + qxM[1], qxM[0] + qxP[1], qxM[0] + qxM[1])
                                let sumq2 = SIMD4<Float>(q2P[0] + q2P[1], q2P[0] + q2M[1], q2M[0] + q2P[1], q2M[0] + q2M[1])
                                for k in 0..<4 where sumq2[k] > 0 && sumqx[k] * sumqx[k] > bestScore * sumq2[k] {
                                    scale = sumqx[k] / sumq2[k]
                                    bestScore = scale * sumqx[k]
                                    besti1 = i1
                                    besti2 = i2
                                    bestK = Int8(k)
                                }
                            }
                        }
                        if besti1 < 0 || besti2 < 0 || bestK < 0 {
                            scales[ib] = 0
                            shifts[ib] = 0
                            continue
                        }
                        for j in 0..<16 { L[order[j]] = j < besti1 ? 0 : j < besti2 ? 1 : 2 }
                        if scale < 0 {
                            for j in 0..<16 { L[j] = 2 &- L[j] }
                            scale = -scale
                            bestK = 3 &- bestK
                        }
                        var allOnGrid = true
                        var index = SIMD2<Int32>()
                        for k in 0..<2 {
                            var entry = latticeEntry(lattice, L + 8 &* k, bits: 2)
                            if entry < 0 {
                                allOnGrid = false
                                entry = Int32(bestIQ1Neighbour(
                                    lattice, entry, xb + 8 &* k, weight + 8 &* k, scale, levels(k, bestK), L + 8 &* k))
                            }
                            index[k] = entry
                        }
                        if !allOnGrid {
                            var sumqx: Float = 0
                            var sumq2: Float = 0
                            for k in 0..<2 {
                                let xx = levels(k, bestK)
                                let point = lattice.point(Int(index[k]))
                                for j in 0..<8 {
                                    let w = weight[8 &* k &+ j]
                                    let q = xx[Int((point[j] &- 1) / 2)]
                                    sumqx += w * q * xb[8 &* k &+ j]
                                    sumq2 += w * q * q
                                }
                            }
                            if sumqx > 0 && sumq2 > 0 { scale = sumqx / sumq2 }
                        }
                        bytes[qsStart &+ 2 &* ib] = UInt8(truncatingIfNeeded: index[0])
                        bytes[qsStart &+ 2 &* ib &+ 1] = UInt8(truncatingIfNeeded: index[1])
                        bytes[qhStart &+ ib] = UInt8(truncatingIfNeeded: (index[0] >> 8) | ((index[1] >> 8) << 4))
                        scales[ib] = scale
                        shifts[ib] = bestK
                        maxScale = maxScale > scale ? maxScale : scale
                    }
                    if maxScale == 0 { return }
                    var sc = SIMD4<UInt16>()
                    var d = maxScale / 15
                    let id = 1 / d
                    var sumqx: Float = 0
                    var sumq2: Float = 0
                    for ib in 0..<16 {
                        let l = Int32(scaleCode(id, scales[ib], top: 7))
                        sc[ib / 4] |= UInt16(truncatingIfNeeded: l) << UInt16(3 &* (ib % 4))
                        bytes[qhStart &+ ib] |= masks[Int(shifts[ib])]
                        let xb = x + 16 &* ib
                        weigh(xb, ib)
                        for k in 0..<2 {
                            let xx = levels(k, shifts[ib])
                            let high = (Int(bytes[qhStart &+ ib]) << (8 &- 4 &* k)) & 0x700
                            let point = lattice.point(Int(bytes[qsStart &+ 2 &* ib &+ k]) &+ high)
                            for j in 0..<8 {
                                let w = weight[8 &* k &+ j]
                                let q = xx[Int((point[j] &- 1) / 2)] * Float(2 &* l &+ 1)
                                sumqx += w * q * xb[8 &* k &+ j]
                                sumq2 += w * q * q
                            }
                        }
                    }
                    if sumq2 > 0 { d = sumqx / sumq2 }
                    let s = HalfPrecision.float16Bits(d * 1.1125)
                    sc[0] |= (s & 0x000F) << 12
                    sc[1] |= (s & 0x00F0) << 8
                    sc[2] |= (s & 0x0F00) << 4
                    sc[3] |= s & 0xF000
                    for i in 0..<4 { y.storeBytes(of: sc[i].littleEndian, toByteOffset: 48 &+ 2 &* i, as: UInt16.self) }
                }
            }
        }
    }
}
