/// Quantization to IQ2_XXS, IQ2_XS and IQ2_S: ports of ggml's
/// `quantize_row_iq2_xxs_impl`, `quantize_row_iq2_xs_impl` and
/// `quantize_row_iq2_s_impl` (ggml-quants.c), byte-identical with
/// `ggml_quantize_chunk` for finite inputs. Each 8-element group is a point
/// of the type's lattice (`IQLattice`) times a sub-block scale, with signs
/// stored apart (IQ2_XXS and IQ2_XS keep an even number of minus signs and
/// flip the least important element's sign to get one).
///
/// IQ2_XXS and IQ2_XS need an importance vector (`qw`, the block's columns);
/// IQ2_S weighs by `0.25 * sigma2 + x^2` without one. ggml aborts when a
/// point falls off the grid, which only non-finite inputs cause; here such a
/// group takes grid point 0 instead (callers reject non-finite inputs first).
extension Quantize {
    private typealias Near = BlockQuantization

    /// `iq2_find_best_neighbour`: the neighbour of the off-grid vector whose
    /// scaled point is nearest to `xval` under `weight` (the first on ties);
    /// writes its coordinates `(p - 1) / 2` to `L` and returns its index.
    @inline(__always)
    static func bestNeighbour(
        _ lattice: IQLattice, _ entry: Int32, _ xval: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
        _ scale: Float, _ L: UnsafeMutablePointer<Int8>
    ) -> Int {
        let list = lattice.neighbourList(entry)
        let count = Int(list[0])
        let n = lattice.dimensions
        var best = Float.greatestFiniteMagnitude
        var index = -1
        var j = 1
        while j <= count {
            defer { j &+= 1 }
            let point = lattice.point(Int(list[j]))
            var d2: Float = 0
            for i in 0..<n {
                let diff = scale * Float(point[i]) - xval[i]
                d2 += weight[i] * diff * diff
            }
            if d2 < best {
                best = d2
                index = Int(list[j])
            }
        }
        if index < 0 { index = 0 }
        let point = lattice.point(index)
        for i in 0..<n { L[i] = (point[i] &- 1) / 2 }
        return index
    }

    /// The lattice index of the 8 (or 4) coordinates at `L`, or the
    /// negative `map` entry when they are off the grid.
    @inline(__always)
    static func latticeEntry(_ lattice: IQLattice, _ L: UnsafePointer<Int8>, bits: Int) -> Int32 {
        var u = 0
        for i in 0..<lattice.dimensions { u |= Int(UInt8(bitPattern: L[i])) << (bits &* i) }
        return u < lattice.mapSize ? lattice.map[u] : 0
    }

    /// `l = clamp(nearest_int(0.5 * (id * x - 1)), 0, top)` for each coordinate of one group.
    @inline(__always)
    static func latticeCoordinates(_ xval: UnsafePointer<Float>, _ id: Float, top: Int32, count: Int, into L: UnsafeMutablePointer<Int8>) {
        for i in 0..<count {
            let l = Near.nearestInt(0.5 * (id * xval[i] - 1))
            L[i] = Int8(truncatingIfNeeded: Swift.max(0, Swift.min(top, l)))
        }
    }

    /// `sumqx` and `sumq2` of quants `2L + 1` against `xval` under `weight`.
    @inline(__always)
    static func latticeSums(_ xval: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ L: UnsafePointer<Int8>, _ n: Int) -> (Float, Float) {
        var sumqx: Float = 0
        var sumq2: Float = 0
        for i in 0..<n {
            let w = weight[i]
            let q = Float(2 &* Int32(L[i]) &+ 1)
            sumqx += w * xval[i] * q
            sumq2 += w * q * q
        }
        return (sumqx, sumq2)
    }

    /// The magnitudes of 8 elements and their sign bits; with `evenSigns`,
    /// an odd count of negatives is made even by flipping the sign of the
    /// element with the smallest `weight * x^2` (its value then enters the
    /// fit negated).
    @inline(__always)
    static func signedGroup(
        _ xb: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, into xval: UnsafeMutablePointer<Float>, evenSigns: Bool
    ) -> UInt8 {
        var nflip = 0
        var s: UInt8 = 0
        for i in 0..<8 {
            if xb[i] >= 0 {
                xval[i] = xb[i]
            } else {
                xval[i] = -xb[i]
                nflip &+= 1
                s |= 1 << UInt8(i)
            }
        }
        if evenSigns && nflip % 2 != 0 {
            var imin = 0
            var min = weight[0] * xb[0] * xb[0]
            for i in 1..<8 {
                let ax = weight[i] * xb[i] * xb[i]
                if ax < min {
                    min = ax
                    imin = i
                }
            }
            xval[imin] = -xval[imin]
            s ^= 1 << UInt8(imin)
        }
        return s
    }

    /// `MAX(max, x)` over `n` values from `x[0]`.
    @inline(__always)
    static func largest(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var max = x[0]
        for i in 1..<n { max = max > x[i] ? max : x[i] }
        return max
    }

    /// The 4-bit sub-block scale code `clamp(nearest_int(0.5 * (id * scale - 1)), 0, 15)`.
    @inline(__always)
    static func scaleCode(_ id: Float, _ scale: Float, top: Int32 = 15) -> UInt32 {
        UInt32(truncatingIfNeeded: Swift.max(0, Swift.min(top, Near.nearestInt(0.5 * (id * scale - 1)))))
    }

    /// `quantize_row_iq2_xxs_impl` for one super-block: `d` (f16), then per
    /// 32-element sub-block two words: four 8-bit grid indices, and four 7-bit
    /// sign groups plus a 4-bit scale.
    @inline(__always)
    static func iq2_XXS(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, importance qw: UnsafePointer<Float>) {
        let lattice = IQLattice.iq2xxs
        let kMaxQ: Int32 = 3
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 8 + 32 * 3) { floats in
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: 64) { ints in
                withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 16) { words in
                    let scales = floats.baseAddress!, weight = scales + 8, xval = weight + 32, waux = xval + 32
                    let L = ints.baseAddress!, Laux = L + 32
                    let q2 = words.baseAddress!
                    HalfPrecision.storeFloat16(0, y, 0)
                    for i in 0..<16 { q2[i] = 0 }
                    var maxScale: Float = 0
                    let sigma2 = sumOfSquares(x, 256) / 256
                    for ib in 0..<8 {
                        let xb = x + 32 &* ib
                        importanceWeights(xb, qw + 32 &* ib, sigma2: sigma2, 32, into: weight)
                        for i in 0..<32 { waux[i] = weight[i].squareRoot() }
                        var blockSigns = SIMD4<UInt8>()
                        for k in 0..<4 {
                            blockSigns[k] = signedGroup(xb + 8 &* k, weight + 8 &* k, into: xval + 8 &* k, evenSigns: true) & 127
                        }
                        let max = largest(xval, 32)
                        if max < Near.groupMaxEpsilon {
                            scales[ib] = 0
                            for i in 0..<32 { L[i] = 0 }
                            continue
                        }
                        var scale = L.withMemoryRebound(to: UInt8.self, capacity: 32) {
                            makeQPQuants(32, kMaxQ &+ 1, xval, $0, weights: weight)
                        }
                        let effMax = scale * Float(kMaxQ)
                        if effMax <= 0 {
                            scales[ib] = 0
                            for i in 0..<32 { L[i] = 0 }
                            continue
                        }
                        var best: Float = 0
                        for step in -6...6 {
                            let id = (Float(2 &* kMaxQ &- 1) + Float(step) * 0.1) / effMax
                            let thisScale = 1 / id
                            for k in 0..<4 {
                                latticeCoordinates(xval + 8 &* k, id, top: kMaxQ &- 1, count: 8, into: Laux + 8 &* k)
                                let entry = latticeEntry(lattice, Laux + 8 &* k, bits: 2)
                                if entry < 0 {
                                    _ = bestNeighbour(lattice, entry, xval + 8 &* k, waux + 8 &* k, thisScale, Laux + 8 &* k)
                                }
                            }
                            let (sumqx, sumq2) = latticeSums(xval, weight, Laux, 32)
                            if sumq2 > 0 && sumqx * sumqx > best * sumq2 {
                                scale = sumqx / sumq2
                                best = scale * sumqx
                                for i in 0..<32 { L[i] = Laux[i] }
                            }
                        }
                        if scale > 0 {
                            let id = 1 / scale
                            for k in 0..<4 {
                                latticeCoordinates(xval + 8 &* k, id, top: kMaxQ &- 1, count: 8, into: Laux + 8 &* k)
                                var index = Int(latticeEntry(lattice, Laux + 8 &* k, bits: 2))
                                if index < 0 {
                                    index = bestNeighbour(lattice, Int32(index), xval + 8 &* k, waux + 8 &* k, scale, L + 8 &* k)
                                }
                                let point = lattice.point(index)
                                for i in 0..<8 { L[8 &* k &+ i] = (point[i] &- 1) / 2 }
                            }
                            let (sumqx, sumq2) = latticeSums(xval, weight, L, 32)
                            if sumq2 > 0 { scale = sumqx / sumq2 }
                        }
                        if scale < 0 {
                            scale = -scale
                            blockSigns = ~blockSigns & 127
                        }
                        for k in 0..<4 {
                            let index = Swift.max(0, latticeEntry(lattice, L + 8 &* k, bits: 2))
                            q2[2 &* ib] |= UInt32(truncatingIfNeeded: index) << UInt32(8 &* k)
                            q2[2 &* ib &+ 1] |= UInt32(blockSigns[k]) << UInt32(7 &* k)
                        }
                        scales[ib] = scale
                        maxScale = maxScale > scale ? maxScale : scale
                    }
                    let qs = y + 2
                    if maxScale == 0 {
                        for i in 0..<64 { qs.storeBytes(of: 0, toByteOffset: i, as: UInt8.self) }
                        return
                    }
                    let d = maxScale / 31
                    HalfPrecision.storeFloat16(d, y, 0)
                    let id = 1 / d
                    for ib in 0..<8 { q2[2 &* ib &+ 1] |= scaleCode(id, scales[ib]) << 28 }
                    for i in 0..<16 { qs.storeBytes(of: q2[i].littleEndian, toByteOffset: 4 &* i, as: UInt32.self) }
                }
            }
        }
    }

    /// `quantize_row_iq2_xs_impl` for one super-block: `d` (f16), per
    /// 8-element group a 16-bit word (9-bit grid index, 7-bit signs), then
    /// per 32 elements a byte of two 4-bit scales.
    @inline(__always)
    static func iq2_XS(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, importance qw: UnsafePointer<Float>) {
        iq2XSOrS(x, y, importance: qw, lattice: IQLattice.iq2xs, small: false)
    }

    /// `quantize_row_iq2_s_impl` for one super-block: `d` (f16), 32 low
    /// bytes of 10-bit grid indices, 32 sign bytes, 8 bytes of high index
    /// bits, 8 bytes of two 4-bit scales. Without importance the weights are
    /// `0.25 * sigma2 + x^2`.
    @inline(__always)
    static func iq2_S(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, importance qw: UnsafePointer<Float>?) {
        iq2XSOrS(x, y, importance: qw, lattice: IQLattice.iq2s, small: true)
    }

    /// The common search of IQ2_XS (`small` false) and IQ2_S (`small` true):
    /// 16-element sub-blocks of two groups, 19 candidate scales.
    @inline(__always)
    static func iq2XSOrS(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, importance qw: UnsafePointer<Float>?, lattice: IQLattice, small: Bool
    ) {
        let kMaxQ: Int32 = 3
        let bytes = y.assumingMemoryBound(to: UInt8.self)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16 + 16 * 3) { floats in
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: 32) { ints in
                let scales = floats.baseAddress!, weight = scales + 16, xval = weight + 16, waux = xval + 16
                let L = ints.baseAddress!, Laux = L + 16
                let blockBytes = small ? 82 : 74
                for i in 0..<blockBytes { bytes[i] = 0 }
                var maxScale: Float = 0
                let sum = sumOfSquares(x, 256)
                let sigma2 = small ? 2 * sum / 256 : sum / 256
                for ib in 0..<16 {
                    let xb = x + 16 &* ib
                    if let qw {
                        importanceWeights(xb, qw + 16 &* ib, sigma2: sigma2, 16, into: weight)
                    } else {
                        for i in 0..<16 { weight[i] = 0.25 * sigma2 + xb[i] * xb[i] }
                    }
                    for i in 0..<16 { waux[i] = weight[i].squareRoot() }
                    var blockSigns = SIMD2<UInt8>()
                    for k in 0..<2 {
                        let s = signedGroup(xb + 8 &* k, weight + 8 &* k, into: xval + 8 &* k, evenSigns: !small)
                        blockSigns[k] = small ? s : s & 127
                    }
                    let max = largest(xval, 16)
                    for i in 0..<16 { L[i] = 0 }
                    if max < (small ? 1e-8 : Near.groupMaxEpsilon) {
                        scales[ib] = 0
                        continue
                    }
                    var best: Float = 0
                    var scale = max / Float(2 &* kMaxQ &- 1)
                    var onGrid = SIMD2<UInt8>(1, 1)
                    for step in -9...9 {
                        let id = (Float(2 &* kMaxQ &- 1) + Float(step) * 0.1) / max
                        let thisScale = 1 / id
                        var onGridAux = SIMD2<UInt8>(1, 1)
                        for k in 0..<2 {
                            latticeCoordinates(xval + 8 &* k, id, top: kMaxQ &- 1, count: 8, into: Laux + 8 &* k)
                            let entry = latticeEntry(lattice, Laux + 8 &* k, bits: 2)
                            if entry < 0 {
                                onGridAux[k] = 0
                                _ = bestNeighbour(lattice, entry, xval + 8 &* k, waux + 8 &* k, thisScale, Laux + 8 &* k)
                            }
                        }
                        let (sumqx, sumq2) = latticeSums(xval, weight, Laux, 16)
                        if sumq2 > 0 && sumqx * sumqx > best * sumq2 {
                            scale = sumqx / sumq2
                            best = scale * sumqx
                            for i in 0..<16 { L[i] = Laux[i] }
                            onGrid = onGridAux
                        }
                    }
                    if (onGrid[0] == 0 || onGrid[1] == 0) && scale > 0 {
                        let id = 1 / scale
                        for k in 0..<2 where onGrid[k] == 0 {
                            latticeCoordinates(xval + 8 &* k, id, top: kMaxQ &- 1, count: 8, into: L + 8 &* k)
                            let entry = latticeEntry(lattice, L + 8 &* k, bits: 2)
                            if entry < 0 {
                                _ = bestNeighbour(lattice, entry, xval + 8 &* k, waux + 8 &* k, scale, L + 8 &* k)
                            }
                        }
                        let (sumqx, sumq2) = latticeSums(xval, weight, L, 16)
                        if sumq2 > 0 { scale = sumqx / sumq2 }
                    }
                    if scale < 0 {
                        scale = -scale
                        blockSigns = small ? ~blockSigns : ~blockSigns & 127
                    }
                    for k in 0..<2 {
                        let index = UInt16(truncatingIfNeeded: Swift.max(0, latticeEntry(lattice, L + 8 &* k, bits: 2)))
                        let i8 = 2 &* ib &+ k
                        if small {
                            bytes[2 &+ i8] = UInt8(truncatingIfNeeded: index)
                            bytes[66 &+ i8 / 4] |= UInt8(truncatingIfNeeded: index >> 8) << UInt8(2 &* (i8 % 4))
                            bytes[34 &+ i8] = blockSigns[k]
                        } else {
                            let word = index | (UInt16(blockSigns[k]) << 9)
                            y.storeBytes(of: word.littleEndian, toByteOffset: 2 &+ 2 &* i8, as: UInt16.self)
                        }
                    }
                    scales[ib] = scale
                    maxScale = maxScale > scale ? maxScale : scale
                }
                if maxScale == 0 {
                    // IQ2_XS clears the indices it wrote; IQ2_S keeps them.
                    if !small { for i in 2..<66 { bytes[i] = 0 } }
                    return
                }
                let d = maxScale / 31
                HalfPrecision.storeFloat16(small ? d * 0.9875 : d, y, 0)
                let id = 1 / d
                let scaleBytes = small ? 74 : 66
                for ib in 0..<16 {
                    let l = UInt8(truncatingIfNeeded: scaleCode(id, scales[ib]))
                    if ib % 2 == 0 {
                        bytes[scaleBytes &+ ib / 2] = l
                    } else {
                        bytes[scaleBytes &+ ib / 2] |= l << 4
                    }
                }
            }
        }
    }
}
