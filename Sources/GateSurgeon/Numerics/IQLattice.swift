/// The search tables of one IQ1/IQ2/IQ3 codebook, built as ggml's
/// `iq2xs_init_impl` (IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S/IQ1_M) and
/// `iq3xs_init_impl` (IQ3_XXS, IQ3_S) build them in ggml-quants.c:
///
/// - `points`: every grid point as `dimensions` signed bytes `2l + 1`;
/// - `map`: for every packed coordinate vector `u` (2 or 3 bits per
///   coordinate), the grid index when `u` is on the grid, otherwise
///   `-(offset + 1)` into `neighbours`;
/// - `neighbours`: for a vector off the grid, a count `n` followed by the `n`
///   grid indices whose squared distance to it is among its `nearest`
///   smallest distinct distances, ordered by (distance, index): the order
///   `qsort` with ggml's total comparator gives.
///
/// One difference in extent, none in content: ggml lists neighbours for
/// all 43,692 map entries of the 2-bit codebooks, while the quantizers only
/// ever look up vectors whose coordinates are at most 2 (`kMaxQ - 1`); only
/// those 3^8 = 6,561 entries get lists here (each identical to ggml's), the
/// others an empty list. The IQ3 codebooks get all 4,096.
///
/// The tables are built once per codebook on first use and never freed,
/// like ggml's after `ggml_quantize_init`. `byteCount` is their size:
/// IQ2_XXS 415,742 bytes, IQ2_XS 554,406, IQ2_S 283,468, IQ1_S/IQ1_M
/// 855,622, IQ3_XXS 63,060, IQ3_S 75,068 (ggml's, listing every entry:
/// 1,011,616, 1,282,308, 601,160, 2,941,830, 63,058 and 75,066).
final class IQLattice: @unchecked Sendable {
    /// Coordinates per grid point (8 for IQ1/IQ2, 4 for IQ3).
    let dimensions: Int
    /// Number of grid points.
    let size: Int
    /// Entries of `map` (43,692 for IQ1/IQ2, 4,096 for IQ3).
    let mapSize: Int
    /// `size * dimensions` coordinates, each `2l + 1`.
    let points: UnsafeMutablePointer<Int8>
    let map: UnsafeMutablePointer<Int32>
    let neighbours: UnsafeMutablePointer<UInt16>
    /// Entries of `neighbours` (counts included).
    let neighbourCount: Int

    /// Bytes the three tables take.
    var byteCount: Int { size &* dimensions &+ mapSize &* 4 &+ neighbourCount &* 2 }

    /// Builds the tables of `codes` (each point `dimensions` fields of
    /// `bits` bits) keeping the `nearest` smallest distinct distances, for
    /// the off-grid vectors whose coordinates are all below `levels`.
    /// - Complexity: O(reachable vectors × size), parallel over vectors.
    init(codes: [UInt16], bits: Int, dimensions: Int, mapSize: Int, nearest: Int, levels: Int) {
        self.dimensions = dimensions
        size = codes.count
        self.mapSize = mapSize
        let size = codes.count
        let mask = (1 << bits) - 1
        points = .allocate(capacity: size * dimensions)
        for k in 0..<size {
            for i in 0..<dimensions {
                points[k * dimensions + i] = Int8(2 * ((Int(codes[k]) >> (bits * i)) & mask) + 1)
            }
        }
        map = .allocate(capacity: mapSize)
        map.initialize(repeating: -1, count: mapSize)
        for k in 0..<size {
            var index = 0
            for i in 0..<dimensions { index |= ((Int(points[k * dimensions + i]) - 1) / 2) << (bits * i) }
            map[index] = Int32(k)
        }
        // Squared distances between half-vectors (`dimensions / 2`
        // coordinates, `half` bits): d2(v, g) = table[v.low][g.low] + table[v.high][g.high].
        let half = bits * dimensions / 2
        let halfCount = 1 << half
        let table = UnsafeMutablePointer<Int32>.allocate(capacity: halfCount * halfCount)
        defer { table.deallocate() }
        for a in 0..<halfCount {
            for b in 0..<halfCount {
                var d2 = 0
                for k in 0..<(dimensions / 2) {
                    let diff = 2 * ((a >> (bits * k)) & mask) - 2 * ((b >> (bits * k)) & mask)
                    d2 += diff * diff
                }
                table[a * halfCount + b] = Int32(d2)
            }
        }
        let low = UnsafeMutablePointer<Int32>.allocate(capacity: 2 * size)
        defer { low.deallocate() }
        let high = low + size
        for k in 0..<size {
            low[k] = Int32(Int(codes[k]) & (halfCount - 1))
            high[k] = Int32(Int(codes[k]) >> half)
        }
        // The vectors to list: off the grid, every coordinate below `levels`.
        var vectors = [Int32]()
        for u in 0..<mapSize where map[u] < 0 {
            var reachable = true
            for k in 0..<dimensions where (u >> (bits * k)) & mask >= levels { reachable = false }
            if reachable { vectors.append(Int32(u)) }
        }
        let shape = Shape(size: size, nearest: nearest, half: half, table: UnsafePointer(table), low: UnsafePointer(low), high: UnsafePointer(high))
        // Pass 1 counts each vector's neighbours, pass 2 writes them at their
        // offsets (ggml's two passes, with a selection of the distinct
        // distances in place of the full sort: same lists, same order).
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: vectors.count + 1)
        defer { counts.deallocate() }
        vectors.withUnsafeBufferPointer { vectors in
            ParallelChunks.forEach(count: vectors.count, grain: 64, elementsPerItem: size) { range in
                let distances = UnsafeMutablePointer<Int32>.allocate(capacity: size)
                defer { distances.deallocate() }
                for v in range { counts[v] = IQLattice.nearestPoints(of: Int(vectors[v]), shape, distances, write: nil) }
            }
        }
        // One empty list (offset 0) for the vectors no quantizer looks up.
        var total = 1
        for v in 0..<vectors.count {
            let count = counts[v]
            counts[v] = total
            total += 1 + count
        }
        neighbourCount = total
        neighbours = .allocate(capacity: total)
        neighbours[0] = 0
        let neighbours = self.neighbours, map = self.map
        vectors.withUnsafeBufferPointer { vectors in
            ParallelChunks.forEach(count: vectors.count, grain: 64, elementsPerItem: size) { range in
                let distances = UnsafeMutablePointer<Int32>.allocate(capacity: size)
                defer { distances.deallocate() }
                for v in range {
                    let start = counts[v]
                    let n = IQLattice.nearestPoints(of: Int(vectors[v]), shape, distances, write: neighbours + start + 1)
                    neighbours[start] = UInt16(truncatingIfNeeded: n)
                    map[Int(vectors[v])] = -Int32(start + 1)
                }
            }
        }
    }

    /// What `nearestPoints` needs of a codebook: its size, how many distinct
    /// distances to keep, and the half-vector distance table with each
    /// point's half codes.
    struct Shape {
        let size: Int
        let nearest: Int
        let half: Int
        let table: UnsafePointer<Int32>
        let low: UnsafePointer<Int32>
        let high: UnsafePointer<Int32>
    }

    /// Writes to `write` (when given) the grid points whose squared
    /// distance to the vector `vector` is among the `nearest` smallest
    /// distinct ones, by (distance, index), and returns their count.
    static func nearestPoints(
        of vector: Int, _ shape: Shape, _ distances: UnsafeMutablePointer<Int32>, write: UnsafeMutablePointer<UInt16>?
    ) -> Int {
        let halfCount = 1 << shape.half
        let rowLow = shape.table + (vector & (halfCount &- 1)) &* halfCount
        let rowHigh = shape.table + (vector >> shape.half) &* halfCount
        let size = shape.size, nearest = shape.nearest
        // The `nearest` (at most 3) smallest distinct distances, ascending.
        var smallest = SIMD4<Int32>(repeating: .max)
        var found = 0
        for j in 0..<size {
            let d2 = rowLow[Int(shape.low[j])] &+ rowHigh[Int(shape.high[j])]
            distances[j] = d2
            if found == nearest && d2 >= smallest[nearest &- 1] { continue }
            var at = 0
            while at < found && smallest[at] < d2 { at &+= 1 }
            if at < found && smallest[at] == d2 { continue }
            var k = Swift.min(found, nearest &- 1)
            while k > at {
                smallest[k] = smallest[k &- 1]
                k &-= 1
            }
            smallest[at] = d2
            found = Swift.min(found &+ 1, nearest)
        }
        var n = 0
        for s in 0..<found {
            let d2 = smallest[s]
            for j in 0..<size where distances[j] == d2 {
                write?[n] = UInt16(truncatingIfNeeded: j)
                n &+= 1
            }
        }
        return n
    }

    /// The neighbour list of off-grid entry `entry` (a negative `map` value):
    /// its count, then the indices.
    @inline(__always)
    func neighbourList(_ entry: Int32) -> UnsafePointer<UInt16> {
        UnsafePointer(neighbours + Int(-entry - 1))
    }

    /// Coordinates of grid point `index`.
    @inline(__always)
    func point(_ index: Int) -> UnsafePointer<Int8> { UnsafePointer(points + index &* dimensions) }

    static let iq2xxs = IQLattice(codes: IQGridCodes.iq2xxsCodes, bits: 2, dimensions: 8, mapSize: 43_692, nearest: 2, levels: 3)
    static let iq2xs = IQLattice(codes: IQGridCodes.iq2xsCodes, bits: 2, dimensions: 8, mapSize: 43_692, nearest: 2, levels: 3)
    static let iq2s = IQLattice(codes: IQGridCodes.iq2sCodes, bits: 2, dimensions: 8, mapSize: 43_692, nearest: 1, levels: 3)
    static let iq1s = IQLattice(codes: IQGridCodes.iq1sCodes, bits: 2, dimensions: 8, mapSize: 43_692, nearest: 3, levels: 3)
    static let iq3xxs = IQLattice(codes: IQGridCodes.iq3xxsCodes, bits: 3, dimensions: 4, mapSize: 4_096, nearest: 2, levels: 8)
    static let iq3s = IQLattice(codes: IQGridCodes.iq3sCodes, bits: 3, dimensions: 4, mapSize: 4_096, nearest: 3, levels: 8)
}
