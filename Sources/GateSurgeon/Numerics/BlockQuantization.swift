import CKernels
/// ggml block types: which ones the numerics read and write, the shared
/// helpers of the ports of ggml's reference (de)quantizers, and the drivers
/// that run a per-block kernel over a whole tensor in parallel.
///
/// Every block is independent in both directions (ggml's reference quantizers
/// treat a tensor as one long row of blocks), so the drivers split the blocks
/// of the whole tensor, not its rows, into chunks.
enum BlockQuantization {
    /// Block types `Dequantize` reads.
    static func canDequantize(_ dtype: DType) -> Bool {
        switch dtype {
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K,
            .iq4_NL, .iq4_XS, .tq1_0, .tq2_0, .mxfp4,
            .iq2_XXS, .iq2_XS, .iq2_S, .iq3_XXS, .iq3_S, .iq1_S, .iq1_M:
            true
        default: false
        }
    }

    /// Block types `Quantize` writes.
    static func canQuantize(_ dtype: DType) -> Bool {
        switch dtype {
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_NL, .iq4_XS,
            .iq2_XXS, .iq2_XS, .iq2_S, .iq3_XXS, .iq3_S, .iq1_S, .iq1_M, .tq1_0, .tq2_0, .mxfp4:
            true
        default: false
        }
    }

    /// Block types ggml cannot quantize without an importance vector
    /// (`ggml_quantize_requires_imatrix`).
    static func requiresImportance(_ dtype: DType) -> Bool {
        switch dtype {
        case .iq2_XXS, .iq2_XS, .iq1_S: true
        default: false
        }
    }

    /// Block types `ElementConversion` quantizes only from finite values:
    /// the lattice types, whose searches ggml aborts on for NaN and
    /// infinities, and the ternary and MXFP4 types, whose results for them
    /// rest on unspecified C conversions.
    static func needsFiniteInput(_ dtype: DType) -> Bool {
        switch dtype {
        case .iq2_XXS, .iq2_XS, .iq2_S, .iq3_XXS, .iq3_S, .iq1_S, .iq1_M, .tq1_0, .tq2_0, .mxfp4: true
        default: false
        }
    }

    /// The lattice types (slow searches, smaller parallel chunks).
    static func isLatticeType(_ dtype: DType) -> Bool {
        switch dtype {
        case .iq2_XXS, .iq2_XS, .iq2_S, .iq3_XXS, .iq3_S, .iq1_S, .iq1_M: true
        default: false
        }
    }

    /// Blocks per parallel chunk: about 64K elements, 16K for the slow lattice searches.
    static func grain(_ dtype: DType) -> Int {
        max(1, (isLatticeType(dtype) ? 1 << 14 : 1 << 16) / dtype.blockSize)
    }

    /// Dequantizes `blocks` blocks of `dtype` from `source` into `destination`.
    /// The caller has checked that `dtype` is dequantizable and the sizes.
    /// - Complexity: O(blocks * dtype.blockSize), parallel over chunks of blocks.
    static func dequantize(
        _ source: UnsafeRawPointer, as dtype: DType, into destination: UnsafeMutablePointer<Float>, blocks: Int
    ) {
        let bytes = dtype.blockBytes
        let size = dtype.blockSize
        @inline(__always)
        func run(_ kernel: (UnsafeRawPointer, UnsafeMutablePointer<Float>) -> Void) {
            ParallelChunks.forEach(count: blocks, grain: grain(dtype), elementsPerItem: size) { range in
                for block in range {
                    kernel(source + block &* bytes, destination + block &* size)
                }
            }
        }
        switch dtype {
        case .q4_0: run(Dequantize.q4_0)
        case .q4_1: run(Dequantize.q4_1)
        case .q5_0: run(Dequantize.q5_0)
        case .q5_1: run(Dequantize.q5_1)
        case .q8_0: run(Dequantize.q8_0)
        case .iq4_NL: run(Dequantize.iq4_NL)
        case .mxfp4: run(Dequantize.mxfp4)
        case .q2_K: run(Dequantize.q2_K)
        case .q3_K: run(Dequantize.q3_K)
        case .q4_K: run(Dequantize.q4_K)
        case .q5_K: run(Dequantize.q5_K)
        case .q6_K: run(Dequantize.q6_K)
        case .q8_K: run(Dequantize.q8_K)
        case .iq4_XS: run(Dequantize.iq4_XS)
        case .tq1_0: run(Dequantize.tq1_0)
        case .tq2_0: run(Dequantize.tq2_0)
        case .iq2_XXS: run(Dequantize.iq2_XXS)
        case .iq2_XS: run(Dequantize.iq2_XS)
        case .iq2_S: run(Dequantize.iq2_S)
        case .iq3_XXS: run(Dequantize.iq3_XXS)
        case .iq3_S: run(Dequantize.iq3_S)
        case .iq1_S: run(Dequantize.iq1_S)
        case .iq1_M: run(Dequantize.iq1_M)
        default: preconditionFailure("\(dtype) is not dequantizable")
        }
    }

    /// Quantizes `rows` rows of `rowLength` F32 values from `source` as
    /// `dtype` into `destination`, as `ggml_quantize_chunk(dtype, source,
    /// destination, 0, rows, rowLength, importance)` does: with `importance`
    /// (`rowLength` values, the same for every row) the `quant_weights`
    /// paths, without it the paths ggml takes for a NULL imatrix. The caller
    /// has checked that `dtype` is quantizable, that `rowLength` is whole
    /// blocks, the sizes, and `requiresImportance`.
    /// - Complexity: O(rows * rowLength) times the type's search steps,
    ///   parallel over chunks of blocks (of rows for the 32-element types
    ///   with importance, whose weights use the whole row).
    static func quantize(
        _ source: UnsafePointer<Float>, as dtype: DType, into destination: UnsafeMutableRawPointer,
        rows: Int, rowLength: Int, importance: UnsafePointer<Float>?
    ) {
        switch dtype {
        case .iq2_XXS, .iq2_XS, .iq1_S: precondition(importance != nil, "\(dtype) needs an importance vector")
        default: break
        }
        // Build the lattice tables on this thread, not inside a worker.
        switch dtype {
        case .iq2_XXS: _ = IQLattice.iq2xxs
        case .iq2_XS: _ = IQLattice.iq2xs
        case .iq2_S: _ = IQLattice.iq2s
        case .iq3_XXS: _ = IQLattice.iq3xxs
        case .iq3_S: _ = IQLattice.iq3s
        case .iq1_S, .iq1_M: _ = IQLattice.iq1s
        default: break
        }
        let blocks = rows &* (rowLength / dtype.blockSize)
        // Read on this thread: the workers below are handed it.
        let level = VectorKernels.best
        guard let qw = importance else {
            quantize(source, as: dtype, into: destination, blocks: blocks, level: level)
            return
        }
        let size = dtype.blockSize
        let bytes = dtype.blockBytes
        let blocksPerRow = rowLength / size
        @inline(__always)
        func run(_ kernel: (UnsafePointer<Float>, UnsafeMutableRawPointer, UnsafePointer<Float>) -> Void) {
            runBlocks(source, dtype, destination, blocks) { x, y in
                let block = (x - source) / size
                kernel(x, y, qw + (block % blocksPerRow) &* size)
            }
        }
        /// The vector kernel of `level`, one call per stretch of a row (the
        /// importance runs along the row), the scalar kernel for the blocks
        /// it leaves (non-finite values): the same bytes.
        @inline(__always)
        func runVector(_ type: Int32, _ kernel: (UnsafePointer<Float>, UnsafeMutableRawPointer, UnsafePointer<Float>) -> Void) {
            guard level > .portable else { return run(kernel) }
            ParallelChunks.forEach(count: blocks, grain: grain(dtype), elementsPerItem: size &* 8) { range in
                var block = range.lowerBound
                while block < range.upperBound {
                    let column = block % blocksPerRow
                    let end = Swift.min(range.upperBound, block &- column &+ blocksPerRow)
                    block += gs_quantize_blocks(
                        level.rawValue, type, source + block &* size, qw + column &* size, destination + block &* bytes, end &- block)
                    guard block < end else { continue }
                    kernel(source + block &* size, destination + block &* bytes, qw + (block % blocksPerRow) &* size)
                    block &+= 1
                }
            }
        }
        @inline(__always)
        func runRows(_ kernel: (UnsafePointer<Float>, UnsafeMutableRawPointer, UnsafePointer<Float>, Float) -> Void) {
            ParallelChunks.forEach(count: rows, grain: max(1, (1 << 16) / rowLength), elementsPerItem: rowLength &* 8) { range in
                for row in range {
                    let x = source + row &* rowLength
                    let sigma2 = Quantize.rowMeanSquare(x, rowLength)
                    let y = destination + row &* blocksPerRow &* bytes
                    for block in 0..<blocksPerRow {
                        kernel(x + block &* size, y + block &* bytes, qw + block &* size, sigma2)
                    }
                }
            }
        }
        switch dtype {
        case .q8_0, .tq1_0, .tq2_0, .mxfp4: quantize(source, as: dtype, into: destination, blocks: blocks, level: level)
        case .q4_0: runRows { Quantize.q4_0($0, $1, importance: $2, rowSigma2: $3) }
        case .q5_0: runRows { Quantize.q5_0($0, $1, importance: $2, rowSigma2: $3) }
        case .q4_1: runRows { Quantize.q4_1OrQ5_1($0, $1, importance: $2, rowSigma2: $3, nmax: 15) }
        case .q5_1: runRows { Quantize.q4_1OrQ5_1($0, $1, importance: $2, rowSigma2: $3, nmax: 31) }
        case .q2_K: runVector(Int32(GS_Q2_K)) { Quantize.q2_K($0, $1, importance: $2) }
        case .q3_K: runVector(Int32(GS_Q3_K)) { Quantize.q3_K($0, $1, importance: $2) }
        case .q4_K: runVector(Int32(GS_Q4_K)) { Quantize.q4KOrQ5K($0, $1, importance: $2, nmax: 15) }
        case .q5_K: runVector(Int32(GS_Q5_K)) { Quantize.q4KOrQ5K($0, $1, importance: $2, nmax: 31) }
        case .q6_K: runVector(Int32(GS_Q6_K)) { Quantize.q6_K($0, $1, importance: $2) }
        case .iq4_NL: runVector(Int32(GS_IQ4_NL)) { Quantize.iq4_NL($0, $1, importance: $2) }
        case .iq4_XS: runVector(Int32(GS_IQ4_XS)) { Quantize.iq4_XS($0, $1, importance: $2) }
        case .iq2_XXS: run { Quantize.iq2_XXS($0, $1, importance: $2) }
        case .iq2_XS: run { Quantize.iq2_XS($0, $1, importance: $2) }
        case .iq2_S: run { Quantize.iq2_S($0, $1, importance: $2) }
        case .iq3_XXS: run { Quantize.iq3_XXS($0, $1, importance: $2) }
        case .iq3_S: run { Quantize.iq3_S($0, $1, importance: $2) }
        case .iq1_S: run { Quantize.iq1_S($0, $1, importance: $2) }
        case .iq1_M: run { Quantize.iq1_M($0, $1, importance: $2) }
        default: preconditionFailure("\(dtype) is not quantizable")
        }
    }

    /// Runs a per-block kernel over `blocks` blocks in parallel chunks.
    @inline(__always)
    static func runBlocks(
        _ source: UnsafePointer<Float>, _ dtype: DType, _ destination: UnsafeMutableRawPointer, _ blocks: Int,
        _ kernel: (UnsafePointer<Float>, UnsafeMutableRawPointer) -> Void
    ) {
        let bytes = dtype.blockBytes
        let size = dtype.blockSize
        ParallelChunks.forEach(count: blocks, grain: grain(dtype), elementsPerItem: size &* 8) { range in
            for block in range {
                kernel(source + block &* size, destination + block &* bytes)
            }
        }
    }

    /// Quantizes `blocks` blocks of F32 from `source` as `dtype` into
    /// `destination` without importance, for the types whose blocks ggml
    /// quantizes independently of their row (all but the three that need
    /// importance). The caller has checked that `dtype` is quantizable and the sizes.
    /// - Complexity: O(blocks * dtype.blockSize) (times the search steps of
    ///   the K-quants and IQ types), parallel over chunks of blocks.
    static func quantize(
        _ source: UnsafePointer<Float>, as dtype: DType, into destination: UnsafeMutableRawPointer, blocks: Int,
        level: VectorKernels.Level = VectorKernels.best
    ) {
        let bytes = dtype.blockBytes
        let size = dtype.blockSize
        @inline(__always)
        func run(_ kernel: (UnsafePointer<Float>, UnsafeMutableRawPointer) -> Void) {
            ParallelChunks.forEach(count: blocks, grain: grain(dtype), elementsPerItem: size * 8) { range in
                for block in range {
                    kernel(source + block &* size, destination + block &* bytes)
                }
            }
        }
        /// The vector kernel of `level` (AVX2 or AVX-512), the scalar kernel
        /// for the blocks it leaves (non-finite values; zero extremes of
        /// Q4_1 and Q5_1): the same bytes.
        @inline(__always)
        func runVector(_ type: Int32, _ kernel: (UnsafePointer<Float>, UnsafeMutableRawPointer) -> Void) {
            guard level > .portable else { return run(kernel) }
            ParallelChunks.forEach(count: blocks, grain: grain(dtype), elementsPerItem: size * 8) { range in
                var block = range.lowerBound
                while block < range.upperBound {
                    block += gs_quantize_blocks(
                        level.rawValue, type, source + block &* size, nil, destination + block &* bytes, range.upperBound &- block)
                    guard block < range.upperBound else { break }
                    kernel(source + block &* size, destination + block &* bytes)
                    block += 1
                }
            }
        }
        switch dtype {
        case .q4_0: runVector(Int32(GS_Q4_0), Quantize.q4_0)
        case .q4_1: runVector(Int32(GS_Q4_1), Quantize.q4_1)
        case .q5_0: runVector(Int32(GS_Q5_0), Quantize.q5_0)
        case .q5_1: runVector(Int32(GS_Q5_1), Quantize.q5_1)
        case .q8_0: runVector(Int32(GS_Q8_0), Quantize.q8_0)
        case .q2_K: runVector(Int32(GS_Q2_K), Quantize.q2_K)
        case .q3_K: runVector(Int32(GS_Q3_K), Quantize.q3_K)
        case .q4_K: runVector(Int32(GS_Q4_K), Quantize.q4_K)
        case .q5_K: runVector(Int32(GS_Q5_K), Quantize.q5_K)
        case .q6_K: runVector(Int32(GS_Q6_K), Quantize.q6_K)
        case .iq4_NL: runVector(Int32(GS_IQ4_NL), Quantize.iq4_NL)
        case .iq4_XS: runVector(Int32(GS_IQ4_XS), Quantize.iq4_XS)
        case .tq1_0: run(Quantize.tq1_0)
        case .tq2_0: run(Quantize.tq2_0)
        case .mxfp4: run(Quantize.mxfp4)
        case .iq2_S: run { Quantize.iq2_S($0, $1, importance: nil) }
        case .iq3_XXS: run { Quantize.iq3_XXS($0, $1, importance: nil) }
        case .iq3_S: run { Quantize.iq3_S($0, $1, importance: nil) }
        case .iq1_M: run { Quantize.iq1_M($0, $1, importance: nil) }
        default: preconditionFailure("\(dtype) is not quantizable without importance")
        }
    }

    // MARK: Helpers shared by the ports

    /// ggml's `nearest_int`: round to nearest even by adding 1.5 * 2^23 and
    /// reading the low mantissa bits (meant for |x| <= 4194303; outside that,
    /// and for NaN, it gives the same bits as the C code).
    @inline(__always)
    static func nearestInt(_ x: Float) -> Int32 {
        let shifted = x + 12_582_912
        return Int32(bitPattern: shifted.bitPattern & 0x007F_FFFF) &- 0x0040_0000
    }

    /// C's float-to-int conversion as x86 `cvttss2si` performs it: toward zero,
    /// and `INT32_MIN` for NaN and out-of-range values (where Swift would trap).
    @inline(__always)
    static func truncatingToInt32(_ x: Float) -> Int32 {
        (x > -2_147_483_904 && x < 2_147_483_648) ? Int32(x) : .min
    }

    /// C's `(int8_t)` / `(uint8_t)` conversion of a float: the low byte of `cvttss2si`.
    @inline(__always)
    static func truncatingToByte(_ x: Float) -> UInt8 {
        UInt8(truncatingIfNeeded: truncatingToInt32(x))
    }

    /// `x` after a round trip through half precision, as ggml reads back a
    /// scale it has just stored.
    @inline(__always)
    static func roundedToFloat16(_ x: Float) -> Float {
        HalfPrecision.float(float16Bits: HalfPrecision.float16Bits(x))
    }

    /// The 6-bit scale and min of sub-block `j` of a Q4_K/Q5_K scale array
    /// (ggml's `get_scale_min_k4`).
    @inline(__always)
    static func scaleMinK4(_ j: Int, _ q: UnsafeRawPointer) -> (scale: UInt8, min: UInt8) {
        @inline(__always) func at(_ i: Int) -> UInt8 { q.load(fromByteOffset: i, as: UInt8.self) }
        if j < 4 {
            return (at(j) & 63, at(j &+ 4) & 63)
        }
        return ((at(j &+ 4) & 0xF) | ((at(j &- 4) >> 6) << 4), (at(j &+ 4) >> 4) | ((at(j) >> 6) << 4))
    }

    /// ggml's `kvalues_iq4nl`.
    @inline(__always)
    static var iq4NonLinearValues: SIMD16<Int8> { [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113] }

    /// ggml's `kvalues_mxfp4` (E2M1 values, doubled).
    @inline(__always)
    static var mxfp4Values: SIMD16<Int8> { [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12] }

    /// ggml's `GROUP_MAX_EPS`.
    static let groupMaxEpsilon: Float = 1e-15
}
