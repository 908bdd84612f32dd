import Testing

@testable import GateSurgeon

extension Fixtures {
    /// `ggml_quantize_chunk` with a fixed importance vector, the lattice
    /// types also without, and gguf-py's dequantization of the lattice types
    /// (quant-imatrix.safetensors, fixtures/gen/quant.py).
    static let quantImportance = Result { try SafetensorsFile(path: path("reference/quant-imatrix.safetensors")) }
}

/// Indices of the `blockBytes`-byte blocks where `actual` and `expected` differ.
func differingBlocks(_ actual: [UInt8], _ expected: [UInt8], blockBytes: Int) -> [Int] {
    (0..<(expected.count / blockBytes)).filter { block in
        let range = (block * blockBytes)..<((block + 1) * blockBytes)
        return actual[range] != expected[range]
    }
}

/// Encodes `values` as `dtype` with `importance`, with the code under test.
func encoded(_ values: [Float], as dtype: DType, rowLength: Int, importance: [Float]) throws -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: try #require(dtype.byteCount(elements: values.count)))
    _ = try values.withUnsafeBufferPointer { source in
        try importance.withUnsafeBufferPointer { weights in
            try bytes.withUnsafeMutableBytes {
                try ElementConversion.encode(source, as: dtype, into: $0, rowLength: rowLength, importance: weights)
            }
        }
    }
    return bytes
}

@Suite("Importance-weighted and lattice quantization, byte-exact with ggml")
struct QuantizationImportanceTests {
    static let latticeTypes: [DType] = [.iq2_XXS, .iq2_XS, .iq2_S, .iq3_XXS, .iq3_S, .iq1_S, .iq1_M]
    static let allTypes: [DType] = QuantizationTests.quantizedTypes + latticeTypes
    /// Lattice types ggml quantizes without an importance vector.
    static let latticeTypesWithoutImportance: [DType] = [.iq2_S, .iq3_XXS, .iq3_S, .iq1_M]

    /// With the fixture's importance vector every type gives
    /// `ggml_quantize_chunk`'s bytes exactly (tolerance: none), at every
    /// kernel level this CPU runs.
    @Test(arguments: allTypes, VectorKernels.available)
    func importanceQuantizationMatchesGGML(_ dtype: DType, level: VectorKernels.Level) throws {
        let file = try Fixtures.quantImportance.get()
        let source = try file.floats(of: "source")
        let importance = try file.floats(of: "imatrix")
        let expected = try file.bytes(of: "\(dtype.name.lowercased()).imatrix.bytes").bytes
        let actual = try VectorKernels.withLevel(level) { try encoded(source, as: dtype, rowLength: 512, importance: importance) }
        try #require(actual.count == expected.count)
        let differing = differingBlocks(actual, expected, blockBytes: dtype.blockBytes)
        #expect(differing.isEmpty, "\(differing.count) of \(expected.count / dtype.blockBytes) blocks differ: \(differing.prefix(10))")
    }

    /// Without importance the lattice types that allow it give ggml's bytes.
    @Test(arguments: latticeTypesWithoutImportance)
    func latticeQuantizationWithoutImportanceMatchesGGML(_ dtype: DType) throws {
        let file = try Fixtures.quantImportance.get()
        let source = try file.floats(of: "source")
        let expected = try file.bytes(of: "\(dtype.name.lowercased()).bytes").bytes
        let actual = try encoded(source, as: dtype, rowLength: 512).bytes
        try #require(actual.count == expected.count)
        let differing = differingBlocks(actual, expected, blockBytes: dtype.blockBytes)
        #expect(differing.isEmpty, "\(differing.count) of \(expected.count / dtype.blockBytes) blocks differ: \(differing.prefix(10))")
    }

    /// TQ1_0, TQ2_0 and MXFP4 (which ggml quantizes without the importance)
    /// give ggml's bytes, and those decode to gguf-py's floats bit for bit.
    @Test(arguments: [DType.tq1_0, .tq2_0, .mxfp4])
    func ternaryAndMXFP4MatchGGML(_ dtype: DType) throws {
        let file = try Fixtures.quantImportance.get()
        let source = try file.floats(of: "source")
        let name = dtype.name.lowercased()
        let expected = try file.bytes(of: "\(name).bytes").bytes
        let actual = try encoded(source, as: dtype, rowLength: 512).bytes
        try #require(actual.count == expected.count)
        let differing = differingBlocks(actual, expected, blockBytes: dtype.blockBytes)
        #expect(differing.isEmpty, "\(differing.count) of \(expected.count / dtype.blockBytes) blocks differ: \(differing.prefix(10))")
        let reference = try file.floats(of: "\(name).dequant")
        var decoded = [Float](repeating: 0, count: reference.count)
        try expected.withUnsafeBytes { source in
            try decoded.withUnsafeMutableBufferPointer { try ElementConversion.decode(source, as: dtype, into: $0) }
        }
        #expect(decoded.indices.allSatisfy { decoded[$0].bitPattern == reference[$0].bitPattern })
    }

    /// ggml's lattice blocks decode to gguf-py's floats bit for bit.
    @Test(arguments: latticeTypes)
    func latticeDequantizationMatchesGGUFPy(_ dtype: DType) throws {
        let file = try Fixtures.quantImportance.get()
        let name = dtype.name.lowercased()
        let bytes = try file.bytes(of: "\(name).imatrix.bytes").bytes
        let expected = try file.floats(of: "\(name).imatrix.dequant")
        var actual = [Float](repeating: 0, count: expected.count)
        try bytes.withUnsafeBytes { source in
            try actual.withUnsafeMutableBufferPointer { try ElementConversion.decode(source, as: dtype, into: $0) }
        }
        let differing = (0..<expected.count).filter { actual[$0].bitPattern != expected[$0].bitPattern }
        #expect(differing.isEmpty, "\(differing.count) values differ, first at \(differing.prefix(5).map { "[\($0)] \(actual[$0]) vs \(expected[$0])" })")
    }

    /// Tensors large enough to run on several threads (the fixture's rows
    /// repeated) quantize to the reference bytes repeated.
    @Test(arguments: [(DType.q4_0, 64), (.q4_K, 8), (.iq2_XXS, 8)])
    func parallelImportanceQuantizationMatchesSerial(_ dtype: DType, _ repeats: Int) throws {
        let file = try Fixtures.quantImportance.get()
        let source = try file.floats(of: "source")
        let importance = try file.floats(of: "imatrix")
        let expected = try file.bytes(of: "\(dtype.name.lowercased()).imatrix.bytes").bytes
        let big = Array((0..<repeats).map { _ in source }.joined())
        #expect(big.count * 8 >= ParallelChunks.minimumParallelElements)
        let actual = try encoded(big, as: dtype, rowLength: 512, importance: importance)
        let firstWrongByte = actual.indices.first { actual[$0] != expected[$0 % expected.count] }
        #expect(actual.count == expected.count * repeats && firstWrongByte == nil)
    }

    /// 1024 blocks of a fixed byte stream (every grid index and sign pattern
    /// occurs) decode to floats whose SHA-256 is gguf-py's.
    @Test(arguments: latticeTypes)
    func latticeDequantizationOfArbitraryBlocksMatchesGGUFPy(_ dtype: DType) throws {
        let file = try Fixtures.quantImportance.get()
        let key = "\(dtype.name.lowercased()).random_blocks.dequant_sha256"
        let expected = try #require(file.metadata?.first { $0.key == key }?.value, "fixture metadata \(key) is missing")
        let blocks = 1024
        var bytes = (0..<(blocks * dtype.blockBytes)).map { k in
            UInt8(truncatingIfNeeded: (UInt32(truncatingIfNeeded: k) &* 0x9E37_79B1 &+ 0x7F4A_7C15) >> 24)
        }
        for block in 0..<blocks {
            let base = block * dtype.blockBytes
            if dtype == .iq1_M {
                for (word, nibble) in zip(0..<4, [UInt8(0x0), 0x0, 0xC, 0x3]) {
                    let high = base + 48 + 2 * word + 1
                    bytes[high] = (bytes[high] & 0x0F) | (nibble << 4)
                }
            } else {
                bytes[base] = 0x00
                bytes[base + 1] = 0x3C
            }
        }
        var values = [Float](repeating: 0, count: blocks * dtype.blockSize)
        try bytes.withUnsafeBytes { source in
            try values.withUnsafeMutableBufferPointer { try ElementConversion.decode(source, as: dtype, into: $0) }
        }
        let digest = values.withUnsafeBytes { SHA256.hexDigest($0) }
        #expect(digest == expected)
    }
}

@Suite("Importance arguments are checked")
struct QuantizationImportanceArgumentTests {
    /// IQ2_XXS, IQ2_XS and IQ1_S cannot be quantized without importance
    /// (ggml asserts; `ggml_quantize_requires_imatrix`).
    @Test(arguments: [DType.iq2_XXS, .iq2_XS, .iq1_S])
    func typesThatNeedImportanceRefuseToQuantizeWithoutIt(_ dtype: DType) throws {
        #expect(throws: NumericsError.importanceRequired(dtype)) {
            _ = try encoded([Float](repeating: 1, count: 256), as: dtype, rowLength: 256)
        }
    }

    @Test func importanceMustCoverEachColumnOfWholeGroupsOfRows() throws {
        let values = [Float](repeating: 1, count: 3 * 256)
        for count in [255, 512, 1024] {
            #expect(throws: NumericsError.importanceShape(values: count, rowLength: 256, rows: 3)) {
                _ = try encoded(values, as: .q4_K, rowLength: 256, importance: [Float](repeating: 1, count: count))
            }
        }
        #expect(throws: NumericsError.nonFinite(.q4_K, index: 7, importance: true)) {
            var importance = [Float](repeating: 1, count: 256)
            importance[7] = .nan
            _ = try encoded(values, as: .q4_K, rowLength: 256, importance: importance)
        }
    }

    /// ggml aborts on non-finite values in the lattice searches; they are refused instead.
    @Test(arguments: QuantizationImportanceTests.latticeTypes)
    func latticeTypesRefuseNonFiniteValues(_ dtype: DType) throws {
        var values = [Float](repeating: 1, count: 256)
        values[3] = .infinity
        #expect(throws: NumericsError.nonFinite(dtype, index: 3, importance: false)) {
            _ = try encoded(values, as: dtype, rowLength: 256, importance: [Float](repeating: 1, count: 256))
        }
    }

    /// Importance for k groups of rows (the experts of a 3-D tensor) applies
    /// group g's columns to its rows, as llama-quantize passes
    /// `imatrix + expert * n_per_row` to each expert's rows.
    @Test(arguments: [DType.q4_0, .q4_K, .iq3_S])
    func groupedImportanceQuantizesEachGroupWithItsOwnColumns(_ dtype: DType) throws {
        let file = try Fixtures.quantImportance.get()
        let source = try file.floats(of: "source")
        let importance = try file.floats(of: "imatrix")
        let flat = Array(importance.reversed())
        let grouped = try encoded(source, as: dtype, rowLength: 512, importance: importance + flat)
        let half = source.count / 2
        let first = try encoded(Array(source[..<half]), as: dtype, rowLength: 512, importance: importance)
        let second = try encoded(Array(source[half...]), as: dtype, rowLength: 512, importance: flat)
        #expect(grouped == first + second)
        #expect(first != (try encoded(Array(source[..<half]), as: dtype, rowLength: 512, importance: flat)))
    }
}
