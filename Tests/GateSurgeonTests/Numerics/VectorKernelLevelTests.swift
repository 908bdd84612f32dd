import Testing

@testable import GateSurgeon

/// The guard that every vector level writes the portable path's bytes.
///
/// The AVX2 and AVX-512 quantizers are separate code from the portable Swift
/// ports (which the fixture tests hold to ggml's bytes), so each level is
/// run on the same inputs as the portable path and compared byte for byte.
/// A level this CPU cannot run is not passed silently: it is recorded as a
/// known issue naming the level ("AVX-512 kernels not tested on this CPU"),
/// which the test output shows; the levels it can run are still compared.
/// CI machines without AVX-512 therefore report that AVX-512 went untested.
@Suite("Vector kernel levels write the portable bytes")
struct VectorKernelLevelTests {
    /// Every type with AVX2 / AVX-512 quantizers.
    static let vectorTypes: [DType] = [.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_NL, .iq4_XS]
    /// The types whose vector quantizers also take an importance vector.
    static let weightedTypes: [DType] = [.q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_NL, .iq4_XS]
    /// Row length of the inputs: three 256-element super-blocks, so rows
    /// hold an odd number of K-quant blocks (the vector kernels take them in
    /// pairs and pad the last one) and 24 blocks of 32.
    static let rowLength = 768

    /// The vector levels, each with whether this CPU runs it.
    static var levels: [(level: VectorKernels.Level, runs: Bool)] {
        VectorKernels.Level.allCases.filter { $0 > .portable }.map { ($0, $0 <= VectorKernels.supported) }
    }

    /// Rows that exercise the searches: several scales and distributions,
    /// sub-blocks of zeros, constant and one-signed rows, huge values whose
    /// squares overflow, tiny and subnormal ones, ties of magnitude, values on rounding
    /// boundaries, and rows holding NaN and infinities (which the vector
    /// kernels hand back to the scalar ones).
    static func inputs() -> [Float] {
        var random = SplitMix64(state: 21)
        func uniform() -> Float { Float(random.next() >> 40) / Float(1 << 24) - 0.5 }
        func normal() -> Float { (0..<4).reduce(Float(0)) { sum, _ in sum + uniform() } }
        var rows: [[Float]] = []
        for scale: Float in [1, 1, 1, 1, 0.02, 0.02, 30, 1e-8, 1e-20, 1e-39, 3e18, 1e30] {
            rows.append((0..<rowLength).map { _ in normal() * scale })
        }
        for _ in 0..<2 {
            rows.append((0..<rowLength).map { _ in normal() / (abs(uniform()) + 0.01) })
        }
        rows.append((0..<rowLength).map { _ in uniform() * uniform() * uniform() })
        rows.append((0..<rowLength).map { _ in abs(normal()) + 0.5 })
        rows.append((0..<rowLength).map { _ in -abs(normal()) - 0.5 })
        rows.append((0..<rowLength).map { i in i % 256 < 32 ? 0 : normal() })
        rows.append((0..<rowLength).map { i in i % 64 < 16 ? -0.0 : normal() })
        rows.append([Float](repeating: 0.7431640625, count: rowLength))
        rows.append([Float](repeating: 0, count: rowLength))
        rows.append([Float](repeating: -0.0, count: rowLength))
        rows.append((0..<rowLength).map { i in Float(i % 32) / 2 - 8 })
        rows.append((0..<rowLength).map { i in i % 2 == 0 ? 3 : -3 })
        rows.append((0..<rowLength).map { i in Float((i % 16) - 8) * 0.25 })
        rows.append((0..<rowLength).map { i in i % 7 == 0 ? 250 : normal() * 0.1 })
        rows.append((0..<rowLength).map { i in [-0.3, 0, 0.3][i % 3] })
        var special = (0..<rowLength).map { _ in normal() }
        special[5] = .nan
        special[300] = .infinity
        special[600] = -.infinity
        rows.append(special)
        var tail = (0..<rowLength).map { _ in normal() }
        tail[rowLength - 1] = .nan
        rows.append(tail)
        return Array(rows.joined())
    }

    /// Importance per column: spread over several decades, some zero, one huge.
    static func importance() -> [Float] {
        var random = SplitMix64(state: 22)
        return (0..<rowLength).map { column in
            if column % 97 == 5 || (100..<116).contains(column) { return 0 }
            if column == 300 { return 1e4 }
            return Float(random.next() >> 40) / Float(1 << 22) + 1e-3
        }
    }

    /// Quantizes `values` at `level` through the library's entry point.
    static func quantized(_ values: [Float], as dtype: DType, level: VectorKernels.Level, importance: [Float]?) throws -> [UInt8] {
        try VectorKernels.withLevel(level) {
            guard let importance else { return try encoded(values, as: dtype, rowLength: rowLength).bytes }
            return try encoded(values, as: dtype, rowLength: rowLength, importance: importance)
        }
    }

    /// Every level this CPU runs writes the portable bytes; a level it
    /// cannot run is recorded as a known issue (visible, not a failure).
    func compareLevels(_ dtype: DType, importance: [Float]?) throws {
        let values = Self.inputs()
        let portable = try Self.quantized(values, as: dtype, level: .portable, importance: importance)
        for (level, runs) in Self.levels {
            guard runs else {
                withKnownIssue("\(level) kernels not tested: this CPU does not support them") {
                    Issue.record("\(dtype) \(importance == nil ? "" : "with importance ")at \(level): not run on this CPU")
                }
                continue
            }
            let vector = try Self.quantized(values, as: dtype, level: level, importance: importance)
            try #require(vector.count == portable.count)
            let differing = differingBlocks(vector, portable, blockBytes: dtype.blockBytes)
            #expect(differing.isEmpty, "\(dtype) at \(level): \(differing.count) of \(portable.count / dtype.blockBytes) blocks differ: \(differing.prefix(10))")
        }
    }

    @Test(arguments: vectorTypes)
    func quantizersWriteThePortableBytes(_ dtype: DType) throws {
        try compareLevels(dtype, importance: nil)
    }

    @Test(arguments: weightedTypes)
    func importanceQuantizersWriteThePortableBytes(_ dtype: DType) throws {
        try compareLevels(dtype, importance: Self.importance())
    }

    /// `GATESURGEON_KERNELS` names parse to levels and back.
    @Test func levelNamesRoundTrip() {
        for level in VectorKernels.Level.allCases {
            #expect(VectorKernels.Level(name: level.description) == level)
        }
        #expect(VectorKernels.Level(name: "sse2") == nil)
        #expect(VectorKernels.Level(name: "") == nil)
    }

    /// `withLevel` sets `best` for the task and no longer.
    @Test func withLevelScopesBest() {
        let before = VectorKernels.best
        VectorKernels.withLevel(.portable) { #expect(VectorKernels.best == .portable) }
        #expect(VectorKernels.best == before)
    }
}
