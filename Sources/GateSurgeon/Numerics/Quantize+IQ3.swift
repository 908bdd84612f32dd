/// Quantization to IQ3_XXS and IQ3_S: ports of ggml's
/// `quantize_row_iq3_xxs_impl` (grid 256) and `quantize_row_iq3_s_impl`
/// (block 32, grid 512) in ggml-quants.c, byte-identical with
/// `ggml_quantize_chunk` for finite inputs. Each 4-element group is a point
/// of the type's lattice (`IQLattice`) times a sub-block scale; signs are
/// stored apart (IQ3_XXS keeps an even count per 8 elements, as IQ2_XXS).
/// Both weigh by x² without an importance vector and by
/// `qw * sqrt(sigma2 + x^2)` with one.
///
/// IQ3_S reproduces one quirk of ggml exactly: a sub-block of zeros does not
/// advance the index and sign positions, so the next sub-block's indices
/// and signs are written where the zero sub-block's would have been.
extension Quantize {
    private typealias Near = BlockQuantization

    /// `quantize_row_iq3_xxs_impl(256, ...)` for one super-block: `d` (f16),
    /// 64 grid indices, then per sub-block a word of four 7-bit sign groups
    /// and a 4-bit scale.
    @inline(__always)
    static func iq3_XXS(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, importance qw: UnsafePointer<Float>?) {
        let lattice = IQLattice.iq3xxs
        let kMaxQ: Int32 = 8
        let bytes = y.assumingMemoryBound(to: UInt8.self)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 8 + 32 * 3) { floats in
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: 64) { ints in
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 104) { packed in
                    let scales = floats.baseAddress!, weight = scales + 8, xval = weight + 32, waux = xval + 32
                    let L = ints.baseAddress!, Laux = L + 32
                    let q3 = packed.baseAddress!
                    HalfPrecision.storeFloat16(0, y, 0)
                    for i in 0..<104 { q3[i] = 0 }
                    var signWords = SIMD8<UInt32>()
                    var maxScale: Float = 0
                    let sigma2 = 2 * sumOfSquares(x, 256) / 256
                    for ib in 0..<8 {
                        let xb = x + 32 &* ib
                        if let qw {
                            importanceWeights(xb, qw + 32 &* ib, sigma2: sigma2, 32, into: weight)
                        } else {
                            for i in 0..<32 { weight[i] = xb[i] * xb[i] }
                        }
                        for i in 0..<32 { waux[i] = weight[i].squareRoot() }
                        var blockSigns = SIMD4<UInt8>()
                        for k in 0..<4 {
                            blockSigns[k] = signedGroup(xb + 8 &* k, weight + 8 &* k, into: xval + 8 &* k, evenSigns: true) & 127
                        }
                        let max = largest(xval, 32)
                        for i in 0..<32 { L[i] = 0 }
                        if max < 1e-8 {  // GROUP_MAX_EPS_IQ3_XXS
                            scales[ib] = 0
                            continue
                        }
                        var best: Float = 0
                        var scale = max / Float(2 &* kMaxQ &- 1)
                        var onGrid = SIMD8<UInt8>(repeating: 1)
                        for step in -15...15 {
                            let id = (Float(2 &* kMaxQ &- 1) + Float(step) * 0.2) / max
                            let thisScale = 1 / id
                            var onGridAux = SIMD8<UInt8>(repeating: 1)
                            for k in 0..<8 {
                                latticeCoordinates(xval + 4 &* k, id, top: kMaxQ &- 1, count: 4, into: Laux + 4 &* k)
                                let entry = latticeEntry(lattice, Laux + 4 &* k, bits: 3)
                                if entry < 0 {
                                    onGridAux[k] = 0
                                    _ = bestNeighbour(lattice, entry, xval + 4 &* k, waux + 4 &* k, thisScale, Laux + 4 &* k)
                                }
                            }
                            let (sumqx, sumq2) = latticeSums(xval, weight, Laux, 32)
                            if sumq2 > 0 && sumqx * sumqx > best * sumq2 {
                                scale = sumqx / sumq2
                                best = scale * sumqx
                                for i in 0..<32 { L[i] = Laux[i] }
                                onGrid = onGridAux
                            }
                        }
                        if any(onGrid .== 0) && scale > 0 {
                            let id = 1 / scale
                            for k in 0..<8 where onGrid[k] == 0 {
                                latticeCoordinates(xval + 4 &* k, id, top: kMaxQ &- 1, count: 4, into: Laux + 4 &* k)
                                var index = Int(latticeEntry(lattice, Laux + 4 &* k, bits: 3))
                                if index < 0 {
                                    index = bestNeighbour(lattice, Int32(index), xval + 4 &* k, waux + 4 &* k, scale, L + 4 &* k)
                                }
                                let point = lattice.point(index)
                                for i in 0..<4 { L[4 &* k &+ i] = (point[i] &- 1) / 2 }
                            }
                            let (sumqx, sumq2) = latticeSums(xval, weight, L, 32)
                            if sumq2 > 0 { scale = sumqx / sumq2 }
                        }
                        if scale < 0 {
                            scale = -scale
                            blockSigns = ~blockSigns & 127
                        }
                        for k in 0..<8 {
                            q3[8 &* ib &+ k] = UInt8(truncatingIfNeeded: Swift.max(0, latticeEntry(lattice, L + 4 &* k, bits: 3)))
                        }
                        signWords[ib] = UInt32(blockSigns[0]) | UInt32(blockSigns[1]) << 7
                            | UInt32(blockSigns[2]) << 14 | UInt32(blockSigns[3]) << 21
                        scales[ib] = scale
                        maxScale = maxScale > scale ? maxScale : scale
                    }
                    if maxScale == 0 {
                        for i in 0..<96 { bytes[2 &+ i] = 0 }
                        return
                    }
                    let d = maxScale / 31
                    HalfPrecision.storeFloat16(d * 1.0125, y, 0)
                    let id = 1 / d
                    for ib in 0..<8 { signWords[ib] |= scaleCode(id, scales[ib]) << 28 }
                    for i in 0..<64 { bytes[2 &+ i] = q3[i] }
                    for ib in 0..<8 { y.storeBytes(of: signWords[ib].littleEndian, toByteOffset: 66 &+ 4 &* ib, as: UInt32.self) }
                }
            }
        }
    }

    /// `quantize_row_iq3_s_impl(32, ...)` for one super-block: `d` (f16),
    /// 64 low bytes of 9-bit grid indices, 8 bytes of high bits, 32 sign
    /// bytes, 4 bytes of two 4-bit scales.
    @inline(__always)
    static func iq3_S(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, importance qw: UnsafePointer<Float>?) {
        let lattice = IQLattice.iq3s
        let kMaxQ: Int32 = 8
        let bytes = y.assumingMemoryBound(to: UInt8.self)
        let qsStart = 2, qhStart = 66, signsStart = 74, scalesStart = 106
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 8 + 32 * 3) { floats in
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: 64) { ints in
                let scales = floats.baseAddress!, weight = scales + 8, xval = weight + 32, waux = xval + 32
                let L = ints.baseAddress!, Laux = L + 32
                for i in 0..<110 { bytes[i] = 0 }
                var qsOffset = qsStart, signsOffset = signsStart
                var maxScale: Float = 0
                let sigma2 = 2 * sumOfSquares(x, 256) / 256
                for ib in 0..<8 {
                    let xb = x + 32 &* ib
                    if let qw {
                        importanceWeights(xb, qw + 32 &* ib, sigma2: sigma2, 32, into: weight)
                    } else {
                        for i in 0..<32 { weight[i] = xb[i] * xb[i] }
                    }
                    for i in 0..<32 { waux[i] = weight[i].squareRoot() }
                    var blockSigns = SIMD4<UInt8>()
                    for k in 0..<4 {
                        blockSigns[k] = signedGroup(xb + 8 &* k, weight + 8 &* k, into: xval + 8 &* k, evenSigns: false)
                    }
                    let max = largest(xval, 32)
                    for i in 0..<32 { L[i] = 0 }
                    if max == 0 {
                        scales[ib] = 0
                        continue
                    }
                    var best: Float = 0
                    var scale = max / Float(2 &* kMaxQ &- 1)
                    var onGrid = SIMD8<UInt8>(repeating: 0)
                    for step in -9...9 {
                        let id = (Float(2 &* kMaxQ &- 1) + Float(step) * 0.2) / max
                        let thisScale = 1 / id
                        var onGridAux = SIMD8<UInt8>(repeating: 1)
                        for k in 0..<8 {
                            latticeCoordinates(xval + 4 &* k, id, top: kMaxQ &- 1, count: 4, into: Laux + 4 &* k)
                            let entry = latticeEntry(lattice, Laux + 4 &* k, bits: 3)
                            if entry < 0 {
                                onGridAux[k] = 0
                                _ = bestNeighbour(lattice, entry, xval + 4 &* k, waux + 4 &* k, thisScale, Laux + 4 &* k)
                            }
                        }
                        let (sumqx, sumq2) = latticeSums(xval, weight, Laux, 32)
                        if sumq2 > 0 && sumqx * sumqx > best * sumq2 {
                            scale = sumqx / sumq2
                            best = scale * sumqx
                            for i in 0..<32 { L[i] = Laux[i] }
                            onGrid = onGridAux
                        }
                    }
                    if any(onGrid .== 0) && scale > 0 {
                        // Unlike IQ3_XXS, every group is re-fitted, on the grid or not.
                        let id = 1 / scale
                        for k in 0..<8 {
                            latticeCoordinates(xval + 4 &* k, id, top: kMaxQ &- 1, count: 4, into: Laux + 4 &* k)
                            var index = Int(latticeEntry(lattice, Laux + 4 &* k, bits: 3))
                            if index < 0 {
                                index = bestNeighbour(lattice, Int32(index), xval + 4 &* k, waux + 4 &* k, scale, L + 4 &* k)
                            }
                            let point = lattice.point(index)
                            for i in 0..<4 { L[4 &* k &+ i] = (point[i] &- 1) / 2 }
                        }
                        let (sumqx, sumq2) = latticeSums(xval, weight, L, 32)
                        if sumq2 > 0 { scale = sumqx / sumq2 }
                    }
                    if scale < 0 {
                        scale = -scale
                        blockSigns = ~blockSigns
                    }
                    for k in 0..<8 {
                        let index = Swift.max(0, latticeEntry(lattice, L + 4 &* k, bits: 3))
                        bytes[qsOffset &+ k] = UInt8(truncatingIfNeeded: index)
                        bytes[qhStart &+ ib] |= UInt8(truncatingIfNeeded: index >> 8) << UInt8(k)
                    }
                    qsOffset &+= 8
                    for k in 0..<4 { bytes[signsOffset &+ k] = blockSigns[k] }
                    signsOffset &+= 4
                    scales[ib] = scale
                    maxScale = maxScale > scale ? maxScale : scale
                }
                if maxScale == 0 { return }
                let d = maxScale / 31
                HalfPrecision.storeFloat16(d * 1.033, y, 0)
                let id = 1 / d
                for ib in stride(from: 0, to: 8, by: 2) {
                    let l1 = UInt8(truncatingIfNeeded: scaleCode(id, scales[ib]))
                    let l2 = UInt8(truncatingIfNeeded: scaleCode(id, scales[ib &+ 1]))
                    bytes[scalesStart &+ ib / 2] = l1 | (l2 << 4)
                }
            }
        }
    }
}
