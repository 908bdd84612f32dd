import GateSurgeon
import Testing

@Suite struct GGUFTests {
    static let converterFiles = Fixtures.modelNames.flatMap { model in ["f32", "f16", "bf16", "q8_0"].map { "\(model)-\($0).gguf" } }
    static let quantizedFiles = ["q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q8_0"].map { "llama-\($0).gguf" }

    @Test(arguments: converterFiles + quantizedFiles)
    func readsLlamaCppFiles(name: String) throws {
        let file = try GGUFFile(path: Fixtures.path("gguf/\(name)"))
        #expect(file.version == 3)
        #expect(file.architecture != nil)
        #expect(file.tensors.contains { $0.name == "token_embd.weight" })
        #expect(file.value("tokenizer.ggml.tokens")?.arrayValues?.count ?? 0 > 0)
    }

    /// Every metadata value type gguf-py writes reads back with its type.
    @Test func readsEveryValueType() throws {
        let file = try GGUFFile(path: Fixtures.path("gguf/gguf-py-all-types.gguf"))
        let types = Set(file.metadata.map { $0.value.type })
        for type in GGUFValueType.allCases {
            #expect(types.contains(type), "no metadata value of type \(type.name)")
        }
        let nested = file.metadata.contains { entry in
            if case .array(.array, let values) = entry.value { return !values.isEmpty }
            return false
        }
        #expect(nested, "no array of arrays")
        #expect(file.alignment != GGUFFile.defaultAlignment)
        for tensor in file.tensors {
            #expect((tensor.byteRange.lowerBound - file.dataStart) % file.alignment == 0)
        }
    }

    @Test func readsVersion2() throws {
        let file = try GGUFFile(path: Fixtures.path("gguf/v2.gguf"))
        #expect(file.version == 2)
        #expect(!file.tensors.isEmpty)
    }

    /// Writing a file's metadata and tensors back gives the bytes
    /// llama.cpp's converter (gguf-py's writer) produced.
    @Test(arguments: ["llama-f32.gguf", "qwen2-q8_0.gguf", "qwen3-bf16.gguf", "gguf-py-all-types.gguf", "llama-q4_k.gguf"])
    func writerReproducesTheReferenceBytes(name: String) throws {
        let source = Fixtures.path("gguf/\(name)")
        let file = try GGUFFile(path: source)
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let output = Paths.join(directory, name)
        try GGUFWriter.write(metadata: file.metadata, tensors: file.tensors.map { OutputTensor.copying($0) }, to: output)
        let reread = try GGUFFile(path: output)
        #expect(reread.metadata.map(\.key) == file.metadata.map(\.key))
        #expect(reread.metadata.map(\.value) == file.metadata.map(\.value))
        #expect(try Fixtures.bytes(output) == Fixtures.bytes(source))
    }

    @Test(arguments: [
        ("gguf-bad-magic.gguf", "not a GGUF file"),
        ("gguf-version-1.gguf", "version 1"),
        ("gguf-version-4.gguf", "version 4"),
        ("gguf-truncated-header.gguf", "metadata count 2 at byte 16"),
        ("gguf-tensor-count-huge.gguf", "tensor count"),
        ("gguf-kv-count-huge.gguf", "metadata count"),
        ("gguf-string-length-huge.gguf", "length of"),
        ("gguf-unknown-value-type.gguf", "unknown value type 99"),
        ("gguf-ggml-type-4.gguf", "Q4_2"),
        ("gguf-ggml-type-99.gguf", "unknown ggml type id 99"),
        ("gguf-array-length-huge.gguf", "array length"),
        ("gguf-offset-past-eof.gguf", "tensor 'b': its data (bytes 4288 to 4304) runs past the end of the file: truncated (expected 4304 bytes, found 240)"),
        ("gguf-offset-misaligned.gguf", "not a multiple of the alignment"),
        ("gguf-5-dims.gguf", "5 dimensions"),
        ("gguf-dim-overflow.gguf", "overflow"),
        ("gguf-duplicate-tensor.gguf", "named twice"),
        ("gguf-alignment-0.gguf", "power of two"),
        ("gguf-alignment-3.gguf", "power of two"),
        ("gguf-truncated-data.gguf", "tensor 'b': its data (bytes 224 to 240) runs past the end of the file: truncated (expected 240 bytes, found 230)"),
    ])
    func malformedInputIsRefusedClearly(file: String, problem: String) throws {
        let path = Fixtures.path("bad/\(file)")
        let error = try #require(throws: (any Error).self) { _ = try Checkpoint(path: path) }
        let message = String(describing: error)
        #expect(message.contains(problem), "\(message)")
        #expect(message.hasPrefix(path), "\(message)")
        #expect(message.contains("byte") || message.contains("offset") || message.contains("tensor") || message.contains("alignment"), "\(message)")
        #expect(!message.contains("\n"))
    }

    /// Arrays read from a file are views: random access (which walks string
    /// records from a checkpoint) agrees with iteration, and a view equals,
    /// and hashes like, the same values built in memory.
    @Test(arguments: ["gguf-py-all-types.gguf", "llama-f32.gguf", "qwen2-q8_0.gguf"])
    func arrayViewsAgreeWithTheirValues(name: String) throws {
        let file = try GGUFFile(path: Fixtures.path("gguf/\(name)"))
        var arrays = 0
        for (key, value) in file.metadata {
            guard case .array(let elementType, let view) = value else { continue }
            arrays += 1
            let values = Array(view)
            #expect(values.count == view.count, "\(key)")
            #expect(values.allSatisfy { $0.type == elementType }, "\(key)")
            for index in view.indices.reversed() where view[index] != values[index] {
                Issue.record("\(key)[\(index)]: \(view[index]) != \(values[index])")
                break
            }
            let built = GGUFValue.array(elementType: elementType, values: values)
            let hasNaN = values.contains { $0.doubleValue?.isNaN == true }
            #expect((built == value) == !hasNaN, "\(key)")
            if !hasNaN { #expect(built.hashValue == value.hashValue, "\(key)") }
        }
        #expect(arrays > 0)
    }

    /// A 4-million-element byte array and a 100 000-string array cost a view
    /// each: counted, indexed and written back byte for byte without
    /// building their elements.
    @Test func largeArraysStayViewsOfTheFile() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let bytes = (0..<4_000_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let strings = (0..<100_000).map { "tok\($0)é" }
        let output = ByteArrayOutput()
        try output.write(GGUFFile.magic)
        try output.write(UInt32(3), endianness: .little)
        try output.write(UInt64(0), endianness: .little)
        try output.write(UInt64(2), endianness: .little)
        try output.writeLengthPrefixedUTF8("test.bytes", lengthType: UInt64.self, endianness: .little)
        try output.write(GGUFValueType.array.rawValue, endianness: .little)
        try output.write(GGUFValueType.uint8.rawValue, endianness: .little)
        try output.write(UInt64(bytes.count), endianness: .little)
        try output.write(bytes)
        try output.writeLengthPrefixedUTF8("test.strings", lengthType: UInt64.self, endianness: .little)
        try output.write(GGUFValueType.array.rawValue, endianness: .little)
        try output.write(GGUFValueType.string.rawValue, endianness: .little)
        try output.write(UInt64(strings.count), endianness: .little)
        for text in strings { try output.writeLengthPrefixedUTF8(text, lengthType: UInt64.self, endianness: .little) }
        try output.writeZeros(32 - output.bytes.count % 32)
        let path = Paths.join(directory, "big.gguf")
        try SyntheticModels.writeFile(path, output.bytes)

        let file = try GGUFFile(path: path)
        let byteView = try #require(file.value("test.bytes")?.arrayValues)
        #expect(byteView.count == bytes.count)
        for index in [0, 1, 12_345, bytes.count - 1] { #expect(byteView[index] == .uint8(bytes[index])) }
        let stringView = try #require(file.value("test.strings")?.arrayValues)
        #expect(stringView.count == strings.count)
        for index in [0, 15, 16, 17, 99_999] { #expect(stringView[index] == .string(strings[index])) }
        // A view equals the same values built in memory, and not other values.
        #expect(byteView == GGUFValue.array(elementType: .uint8, values: bytes.map { .uint8($0) }).arrayValues)
        #expect(stringView == GGUFValue.array(elementType: .string, values: strings.map { .string($0) }).arrayValues)
        #expect(stringView != GGUFValue.array(elementType: .string, values: strings.dropLast().map { .string($0) }).arrayValues)
        let copy = Paths.join(directory, "copy.gguf")
        try GGUFWriter.write(metadata: file.metadata, tensors: [], to: copy)
        #expect(try Fixtures.bytes(copy) == output.bytes)
    }

    /// Every element of a built array must have the array's type, or the
    /// file would not read back.
    @Test func writerRefusesMixedArrays() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let path = Paths.join(directory, "mixed.gguf")
        let metadata: Metadata<GGUFValue> = ["test.mixed": .array(elementType: .uint8, values: [.uint8(1), .string("x")])]
        #expect(throws: GGUFWriteError.self) { try GGUFWriter.write(metadata: metadata, tensors: [], to: path) }
        #expect(!Paths.exists(path))
    }

    @Test func goodBaseFileOfTheMalformedSetIsAccepted() throws {
        let file = try GGUFFile(path: Fixtures.path("bad/gguf-good.gguf"))
        #expect(file.tensors.map(\.name) == ["a", "b"])
        #expect(file.tensors[0].shape == [2, 3])
    }
}

/// Type ids and block geometry against gguf-py's GGML_QUANT_SIZES
/// (fixtures/reference/ggml-types.json).
@Suite struct GGMLTypeTests {
    @Test func everyTypeAgreesWithGGUFPy() throws {
        let reference = try #require(Fixtures.json("reference/ggml-types.json").objectValue)
        for (name, entry) in reference {
            let id = try #require(entry["id"]?.intValue)
            let type = try #require(DType(ggmlTypeID: UInt32(id)), "gatesurgeon does not know \(name) (id \(id))")
            #expect(type.name == name)
            #expect(Int64(type.blockSize) == entry["block_size"]?.intValue, "\(name) block size")
            // gguf-py still lists Q8_1 with F32 scales (40 bytes); ggml-common.h
            // static_asserts 2 * sizeof(ggml_half) + 32 = 36, which is what ggml reads.
            let bytes = name == "Q8_1" ? 36 : entry["block_bytes"]?.intValue
            #expect(Int64(type.blockBytes) == bytes, "\(name) block bytes")
        }
        for type in DType.allCases where type.ggmlTypeID != nil {
            #expect(reference[type.name] != nil, "\(type.name) unknown to gguf-py")
        }
    }
}
