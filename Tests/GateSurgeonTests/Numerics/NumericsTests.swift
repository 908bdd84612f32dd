import Testing

@testable import GateSurgeon

extension SafetensorsFile {
    /// The raw bytes and dtype of tensor `name`.
    func bytes(of name: String) throws -> (dtype: DType, bytes: [UInt8], count: Int) {
        let stored = try #require(self.tensor(named: name), "fixture tensor \(name) is missing")
        return (stored.dtype, stored.withBytes { Array($0) }, stored.elementCount)
    }

    /// Tensor `name` decoded to F32 by the code under test.
    func floats(of name: String) throws -> [Float] {
        let (dtype, bytes, count) = try bytes(of: name)
        var values = [Float](repeating: 0, count: count)
        try bytes.withUnsafeBytes { source in
            try values.withUnsafeMutableBufferPointer { try ElementConversion.decode(source, as: dtype, into: $0) }
        }
        return values
    }
}

/// Encodes `values` as `dtype` with the code under test.
func encoded(_ values: [Float], as dtype: DType, rowLength: Int) throws -> (bytes: [UInt8], report: ConversionReport) {
    var bytes = [UInt8](repeating: 0, count: try #require(dtype.byteCount(elements: values.count)))
    let report = try values.withUnsafeBufferPointer { source in
        try bytes.withUnsafeMutableBytes { try ElementConversion.encode(source, as: dtype, into: $0, rowLength: rowLength) }
    }
    return (bytes, report)
}

/// Element `index` of little-endian `bytes` holding `width`-byte elements, as bits.
func elementBits(_ bytes: [UInt8], _ index: Int, width: Int) -> UInt64 {
    (0..<width).reduce(UInt64(0)) { $0 | UInt64(bytes[index * width + $1]) << (8 * $1) }
}

/// One torch cast in casts.safetensors: `source` (any float dtype) to
/// `target`, whose dtype says what to convert to.
struct CastCase: CustomTestStringConvertible, Sendable {
    let source: String
    let target: String
    /// True where torch's own NaN bits depend on the element's position, so
    /// only NaN-ness is compared for NaNs (see `castsMatchTorch`).
    var nanBitsVary = false
    var testDescription: String { "\(source) -> \(target)" }
}

@Suite("Float casts, bit-exact with torch")
struct CastTests {
    static let cases: [CastCase] = [
        CastCase(source: "f32", target: "f32_to_bf16"),
        CastCase(source: "f32", target: "f32_to_f16"),
        CastCase(source: "f32_to_bf16", target: "bf16_to_f32"),
        CastCase(source: "f32_to_f16", target: "f16_to_f32", nanBitsVary: true),
        CastCase(source: "f64", target: "f64_to_f32"),
        CastCase(source: "f64", target: "f64_to_bf16"),
        CastCase(source: "f64", target: "f64_to_f16"),
        CastCase(source: "f8_e4m3", target: "f8_e4m3_to_f32"),
        CastCase(source: "f8_e5m2", target: "f8_e5m2_to_f32"),
        CastCase(source: "f32", target: "f32_to_f8_e4m3"),
        CastCase(source: "f32", target: "f32_to_f8_e5m2"),
    ]

    /// Decodes the source with `decode`, encodes it as the target's dtype
    /// with `encode` (F64 to F16/BF16 thus goes through F32, which is what
    /// torch does: it rounds twice), and compares bit patterns with torch's.
    /// Tolerance: none. Exception: torch's F16 -> F32 gives `0x7FFFFFFF` for
    /// NaNs in the tail of a vector loop and the quiet, sign-keeping NaN
    /// elsewhere, so for that case NaN is compared as NaN-ness.
    @Test(arguments: cases)
    func castsMatchTorch(_ cast: CastCase) throws {
        let file = try Fixtures.casts.get()
        let values = try file.floats(of: cast.source)
        let (dtype, expected, count) = try file.bytes(of: cast.target)
        #expect(count == values.count)
        let actual = try encoded(values, as: dtype, rowLength: count).bytes
        let expectedValues = try file.floats(of: cast.target)
        var reconverted = [Float](repeating: 0, count: count)
        try actual.withUnsafeBytes { source in
            try reconverted.withUnsafeMutableBufferPointer { try ElementConversion.decode(source, as: dtype, into: $0) }
        }
        var mismatches: [String] = []
        for i in 0..<count {
            let want = elementBits(expected, i, width: dtype.blockBytes)
            let got = elementBits(actual, i, width: dtype.blockBytes)
            if want == got { continue }
            if cast.nanBitsVary && expectedValues[i].isNaN && reconverted[i].isNaN { continue }
            mismatches.append("[\(i)] \(values[i]) (0x\(String(values[i].bitPattern, radix: 16))): torch 0x\(String(want, radix: 16)), ours 0x\(String(got, radix: 16))")
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(count) differ: \(mismatches.prefix(8).joined(separator: "; "))")
    }

    /// The report counts exactly the finite inputs torch turned into an
    /// infinity (or, for E4M3, clamped to ±448 from above 464).
    @Test(arguments: ["f32_to_f16", "f32_to_bf16", "f32_to_f8_e5m2", "f32_to_f8_e4m3"])
    func overflowIsReported(_ target: String) throws {
        let file = try Fixtures.casts.get()
        let values = try file.floats(of: "f32")
        let torch = try file.floats(of: target)
        let dtype = try file.bytes(of: target).dtype
        let expected = Fixtures.pairs(values, torch).filter { source, result in
            source.isFinite && (dtype == .f8E4M3 ? source.magnitude > 464 : result.isInfinite)
        }.count
        #expect(expected > 0, "the fixture has overflowing values")
        #expect(try encoded(values, as: dtype, rowLength: values.count).report.overflowed == expected)
    }

    /// F64 values beyond F32's range are counted when decoded.
    @Test func doubleOverflowIsReported() throws {
        let file = try Fixtures.casts.get()
        let (_, bytes, count) = try file.bytes(of: "f64")
        let torch = try file.floats(of: "f64_to_f32")
        let doubles = (0..<count).map { Double(bitPattern: elementBits(bytes, $0, width: 8)) }
        let expected = Fixtures.pairs(doubles, torch).filter { $0.isFinite && $1.isInfinite }.count
        var report = ConversionReport()
        var values = [Float](repeating: 0, count: count)
        try bytes.withUnsafeBytes { source in
            try values.withUnsafeMutableBufferPointer {
                try ElementConversion.decode(source, as: .f64, into: $0, report: &report)
            }
        }
        #expect(expected > 0)
        #expect(report.overflowed == expected)
    }

    /// Our NaN rule where no fixture pins it: F16 NaNs decode quiet with
    /// sign and payload kept, like `vcvtph2ps`.
    @Test(arguments: [(UInt16(0x7D00), UInt32(0x7FE0_0000)), (0xFE00, 0xFFC0_0000), (0xFC01, 0xFFC0_2000)])
    func halfNaNDecodesQuiet(_ half: UInt16, _ single: UInt32) {
        #expect(HalfPrecision.float(float16Bits: half).bitPattern == single)
    }

    /// Every one of the 65536 halves survives F16 -> F32 -> F16, NaN payloads included.
    @Test func everyHalfRoundTrips() {
        for bits in 0...UInt16.max {
            let back = HalfPrecision.float16Bits(HalfPrecision.float(float16Bits: bits))
            let quieted = (bits & 0x7C00 == 0x7C00 && bits & 0x3FF != 0) ? bits | 0x200 : bits
            guard back == quieted else {
                Issue.record("0x\(String(bits, radix: 16)) came back as 0x\(String(back, radix: 16))")
                return
            }
        }
    }

    /// The AVX2 and AVX-512 cast kernels give the portable kernels' bits, and
    /// so torch's: on torch's cast fixture, and on 2^20 random F32 patterns
    /// plus every BF16/F16 pattern widened (NaNs, infinities, subnormals, the
    /// rounding boundaries), with lengths that leave vector tails. The
    /// overflow counts agree too.
    @Test(arguments: VectorKernels.Level.vector)
    func vectorCastsMatchPortable(level: VectorKernels.Level) throws {
        try level.requireOnThisCPU()
        let file = try Fixtures.casts.get()
        var inputs = try file.floats(of: "f32").map(\.bitPattern)
        var state: UInt32 = 99
        for _ in 0..<(1 << 20) {
            state = state &* 1_664_525 &+ 1_013_904_223
            inputs.append(state)
        }
        for bits in 0...UInt32(UInt16.max) {
            inputs += [bits << 16, bits << 16 | 0x8000, bits << 16 | 0x7FFF, bits << 13 &+ 0x3800_0000 | 0x1000]
        }
        for count in [inputs.count, 13, 1] {
            let slice = Array(inputs.prefix(count))
            for (name, encode) in [("bf16", HalfPrecision.encodeBFloat16), ("f16", HalfPrecision.encodeFloat16)] {
                var portable = [UInt16](repeating: 0, count: count), vector = [UInt16](repeating: 1, count: count)
                let (portableOverflow, vectorOverflow) = slice.withUnsafeBytes { source in
                    (portable.withUnsafeMutableBytes { encode(source.baseAddress!, $0.baseAddress!, count, .portable) },
                     vector.withUnsafeMutableBytes { encode(source.baseAddress!, $0.baseAddress!, count, level) })
                }
                let differing = (0..<count).filter { portable[$0] != vector[$0] }
                #expect(differing.isEmpty, "\(name): \(differing.count) differ, first \(differing.prefix(4).map { String(slice[$0], radix: 16) })")
                #expect(portableOverflow == vectorOverflow, "\(name)")
                // Decoding back: the same floats on both paths.
                for (decodeName, decode) in [("bf16", HalfPrecision.decodeBFloat16), ("f16", HalfPrecision.decodeFloat16)] where decodeName == name {
                    var back = [Float](repeating: 0, count: count), vectorBack = [Float](repeating: 1, count: count)
                    portable.withUnsafeBytes { source in
                        back.withUnsafeMutableBufferPointer { decode(source.baseAddress!, $0.baseAddress!, count, .portable) }
                        vectorBack.withUnsafeMutableBufferPointer { decode(source.baseAddress!, $0.baseAddress!, count, level) }
                    }
                    #expect((0..<count).allSatisfy { back[$0].bitPattern == vectorBack[$0].bitPattern }, "\(name) decode")
                }
            }
        }
    }

    /// Float16(x) (round to nearest even in the standard library) agrees with
    /// our F16 rounding on non-NaN inputs across exponents and mantissas.
    @Test func halfRoundingAgreesWithFloat16() {
        var state: UInt32 = 12345
        for _ in 0..<200_000 {
            state = state &* 1_664_525 &+ 1_013_904_223
            let x = Float(bitPattern: state)
            guard !x.isNaN else { continue }
            #expect(HalfPrecision.float16Bits(x) == Float16(x).bitPattern, "\(x)")
        }
    }
}

@Suite("Block quantization, byte-exact with ggml")
struct QuantizationTests {
    static let quantizedTypes: [DType] = [.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_NL, .iq4_XS]
    /// Every type in the fixture is both quantized and dequantized.
    static let dequantizedTypes: [DType] = quantizedTypes

    /// Quantizing the fixture's source gives ggml_quantize_chunk's bytes
    /// exactly (tolerance: none; the reference quantizers are deterministic),
    /// at every kernel level this CPU runs.
    @Test(arguments: quantizedTypes, VectorKernels.available)
    func quantizeMatchesGGML(_ dtype: DType, level: VectorKernels.Level) throws {
        let file = try Fixtures.quant.get()
        let source = try file.floats(of: "source")
        let expected = try file.bytes(of: "\(dtype.name.lowercased()).bytes").bytes
        let actual = try VectorKernels.withLevel(level) { try encoded(source, as: dtype, rowLength: 512).bytes }
        try #require(actual.count == expected.count)
        let differing = (0..<(expected.count / dtype.blockBytes)).filter { block in
            let range = (block * dtype.blockBytes)..<((block + 1) * dtype.blockBytes)
            return actual[range] != expected[range]
        }
        #expect(differing.isEmpty, "\(differing.count) of \(expected.count / dtype.blockBytes) blocks differ: \(differing.prefix(10))")
    }

    /// Dequantizing ggml's bytes gives gguf-py's floats bit for bit
    /// (tolerance: none; both compute the same products in the same order).
    @Test(arguments: dequantizedTypes)
    func dequantizeMatchesGGUFPy(_ dtype: DType) throws {
        let file = try Fixtures.quant.get()
        let name = dtype.name.lowercased()
        let (storedType, bytes, _) = try file.bytes(of: "\(name).bytes")
        #expect(storedType == .u8)
        let expected = try file.floats(of: "\(name).dequant")
        var actual = [Float](repeating: 0, count: expected.count)
        try bytes.withUnsafeBytes { source in
            try actual.withUnsafeMutableBufferPointer { try ElementConversion.decode(source, as: dtype, into: $0) }
        }
        let differing = (0..<expected.count).filter { actual[$0].bitPattern != expected[$0].bitPattern }
        #expect(differing.isEmpty, "\(differing.count) values differ, first at \(differing.prefix(5).map { "[\($0)] \(actual[$0]) vs \(expected[$0])" })")
    }

    /// A tensor large enough to run on several threads (the fixture's rows
    /// repeated 64 times) quantizes to the reference bytes repeated.
    @Test(arguments: [DType.q8_0, .q4_K, .q6_K, .iq4_XS])
    func parallelQuantizationMatchesSerial(_ dtype: DType) throws {
        let file = try Fixtures.quant.get()
        let source = try file.floats(of: "source")
        let expected = try file.bytes(of: "\(dtype.name.lowercased()).bytes").bytes
        let repeats = 64
        let big = Array((0..<repeats).map { _ in source }.joined())
        #expect(big.count * 8 >= ParallelChunks.minimumParallelElements)
        let actual = try encoded(big, as: dtype, rowLength: 512).bytes
        let firstWrongByte = actual.indices.first { actual[$0] != expected[$0 % expected.count] }
        #expect(actual.count == expected.count * repeats && firstWrongByte == nil)
        var decoded = [Float](repeating: 0, count: big.count)
        try actual.withUnsafeBytes { source in
            try decoded.withUnsafeMutableBufferPointer { try ElementConversion.decode(source, as: dtype, into: $0) }
        }
        let reference = try file.floats(of: "\(dtype.name.lowercased()).dequant")
        let firstWrongValue = decoded.indices.first { decoded[$0].bitPattern != reference[$0 % reference.count].bitPattern }
        #expect(firstWrongValue == nil)
    }

    @Test(arguments: quantizedTypes)
    func rowLengthMustBeWholeBlocks(_ dtype: DType) throws {
        let values = [Float](repeating: 1, count: dtype.blockSize * 2)
        var bytes = [UInt8](repeating: 0, count: dtype.blockBytes * 2)
        #expect(throws: NumericsError.self) {
            try values.withUnsafeBufferPointer { source in
                try bytes.withUnsafeMutableBytes {
                    try ElementConversion.encode(source, as: dtype, into: $0, rowLength: dtype.blockSize + 1)
                }
            }
        }
    }

    @Test(arguments: dequantizedTypes)
    func decodingChecksSizes(_ dtype: DType) throws {
        let bytes = [UInt8](repeating: 0, count: dtype.blockBytes)
        for count in [dtype.blockSize - 1, dtype.blockSize * 2] {
            var values = [Float](repeating: 0, count: count)
            #expect(throws: NumericsError.self) {
                try bytes.withUnsafeBytes { source in
                    try values.withUnsafeMutableBufferPointer { try ElementConversion.decode(source, as: dtype, into: $0) }
                }
            }
        }
    }

    /// Types without a reference fixture, checked on hand-made blocks whose
    /// values follow from the format (exact: small integers times powers of two).
    @Test func typesWithoutFixtureDecodeHandMadeBlocks() throws {
        func decode(_ bytes: [UInt8], _ dtype: DType) throws -> [Float] {
            var values = [Float](repeating: .nan, count: dtype.blockSize)
            try bytes.withUnsafeBytes { source in
                try values.withUnsafeMutableBufferPointer { try ElementConversion.decode(source, as: dtype, into: $0) }
            }
            return values
        }
        // TQ2_0: digit 2 (value +1) everywhere except element 0 (digit 0, value -1); d = 0.5.
        var tq2 = [UInt8](repeating: 0b1010_1010, count: 64) + [0x00, 0x38]
        tq2[0] = 0b1010_1000
        #expect(try decode(tq2, .tq2_0) == [-0.5] + [Float](repeating: 0.5, count: 255))
        // TQ1_0: byte 0 encodes ternary digits; 0 everywhere gives -d; d = 2.
        let tq1 = [UInt8](repeating: 0, count: 52) + [0x00, 0x40]
        #expect(try decode(tq1, .tq1_0) == [Float](repeating: -2, count: 256))
        // MXFP4: e = 128 gives scale 1 (half of 2^1), nibble 7 is +12/2*2 = 12, nibble 9 is -1.
        let mxfp4 = [UInt8(128)] + [UInt8](repeating: 0x97, count: 16)
        #expect(try decode(mxfp4, .mxfp4) == [Float](repeating: 12, count: 16) + [Float](repeating: -1, count: 16))
        // Q8_K: d = 0.25 (f32), quants -4...
        var q8k = [UInt8](repeating: 0, count: 292)
        q8k[0...3] = [0x00, 0x00, 0x80, 0x3E]
        q8k[4] = 0xFC
        q8k[5] = 8
        let q8kValues = try decode(q8k, .q8_K)
        #expect(q8kValues[0] == -1 && q8kValues[1] == 2 && q8kValues[2] == 0)
    }
}
