import GateSurgeon
import GateSurgeonCommands
import JSON
import Testing

@Suite struct SafetensorsTests {
    @Test(arguments: Fixtures.modelNames + ["qwen3_5-gated"])
    func readsTransformersCheckpoints(model: String) throws {
        let file = try SafetensorsFile(path: Fixtures.path("models/\(model)/model.safetensors"))
        #expect(file.metadata?.keys.first == "format")
        #expect(file.tensors.contains { $0.name == "model.embed_tokens.weight" })
        // Tensors tile the data section in order.
        var expected = file.dataStart
        for tensor in file.tensors {
            #expect(tensor.byteRange.lowerBound == expected)
            expected = tensor.byteRange.upperBound
        }
        #expect(expected == file.file.size)
    }

    /// Reading a file written by the safetensors Python package and writing
    /// its tensors back gives the same bytes: same order, same header JSON,
    /// same padding.
    @Test(arguments: Fixtures.modelNames + ["qwen3_5-gated"])
    func writerReproducesTheReferenceBytes(model: String) throws {
        let source = Fixtures.path("models/\(model)/model.safetensors")
        let file = try SafetensorsFile(path: source)
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let output = Paths.join(directory, "copy.safetensors")
        try SafetensorsWriter.write(file.tensors.map { OutputTensor.copying($0) }, metadata: file.metadata, to: output)
        #expect(try Fixtures.bytes(output) == Fixtures.bytes(source))
    }

    @Test func shardedDirectoryIsCheckedAgainstItsIndex() throws {
        let sharded = try SafetensorsCheckpoint(directory: Fixtures.path("models/qwen3-sharded"))
        #expect(sharded.files.count > 1)
        #expect(sharded.indexPath != nil)
        let single = try SafetensorsFile(path: Fixtures.path("models/qwen3/model.safetensors"))
        #expect(Set(sharded.tensors.map(\.name)) == Set(single.tensors.map(\.name)))
        for tensor in single.tensors {
            let other = try #require(sharded.tensors.first { $0.name == tensor.name })
            #expect(other.shape == tensor.shape)
            #expect(other.withBytes { Array($0) } == tensor.withBytes { Array($0) })
        }
    }

    @Test func shardedWriteRoundTrips() throws {
        let file = try SafetensorsFile(path: Fixtures.path("models/qwen3/model.safetensors"))
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let layout = SafetensorsWriter.shardLayout(file.tensors.map { OutputTensor.copying($0) }, maxShardSize: 40_000)
        try SafetensorsWriter.write(layout, metadata: file.metadata, into: directory)
        let names = layout.fileNames
        #expect(names.last == "model.safetensors.index.json")
        #expect(names.count > 3)
        let index = try JSONValue.parse(try Paths.readFile(Paths.join(directory, "model.safetensors.index.json")))
        #expect(index["metadata"]?["total_size"]?.intValue == Int64(file.tensors.reduce(0) { $0 + $1.byteCount }))
        let reread = try SafetensorsCheckpoint(directory: directory)
        #expect(reread.tensors.count == file.tensors.count)
        for tensor in file.tensors {
            let other = try #require(reread.tensors.first { $0.name == tensor.name })
            #expect(other.withBytes { Array($0) } == tensor.withBytes { Array($0) })
        }
    }

    @Test func writerIsDeterministicAndRefusesWhatSafetensorsCannotHold() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let tensors = [OutputTensor.floats([1, 2, 3], name: "b", shape: [3]), OutputTensor.floats([4], name: "a", shape: [1])]
        try SafetensorsWriter.write(tensors, metadata: nil, to: Paths.join(directory, "1.safetensors"))
        try SafetensorsWriter.write(tensors.reversed(), metadata: nil, to: Paths.join(directory, "2.safetensors"))
        #expect(try Fixtures.bytes(Paths.join(directory, "1.safetensors")) == Fixtures.bytes(Paths.join(directory, "2.safetensors")))
        let quantized = OutputTensor.bytes([UInt8](repeating: 0, count: 34), name: "q", dtype: .q8_0, shape: [32])
        #expect(throws: SafetensorsWriteError.self) {
            try SafetensorsWriter.write([quantized], metadata: nil, to: Paths.join(directory, "3.safetensors"))
        }
        #expect(!Paths.exists(Paths.join(directory, "3.safetensors")))
    }

    /// Every malformed file of fixtures/bad is refused with a one-line
    /// message that names the file and says what is wrong.
    @Test(arguments: [
        ("st-too-short.safetensors", "too small"),
        ("st-header-len-past-eof.safetensors", "header length 4096 at byte 0 runs past the end of the file: truncated (expected 4104 bytes, found 192)"),
        ("st-header-len-huge.safetensors", "exceeds"),
        ("st-header-not-json.safetensors", "not valid JSON"),
        ("st-header-array.safetensors", "array, expected an object"),
        ("st-header-not-utf8.safetensors", "not valid JSON"),
        ("st-offsets-past-end.safetensors", "tensor 'b' at byte 96: data ends at 1000, past the end of the data section: truncated (expected 1000 data bytes, found 40)"),
        ("st-overlap.safetensors", "overlaps"),
        ("st-gap.safetensors", "gap"),
        ("st-trailing-bytes.safetensors", "belong to no tensor"),
        ("st-length-mismatch.safetensors", "needs 16 bytes"),
        ("st-unknown-dtype.safetensors", "unknown dtype \"F7\""),
        ("st-shape-overflow.safetensors", "overflows"),
        ("st-negative-dim.safetensors", "negative dimension"),
        ("st-duplicate-name.safetensors", "duplicate key"),
        ("st-begin-gt-end.safetensors", "after end"),
        ("st-metadata-non-string.safetensors", "__metadata__"),
        ("st-sharded-missing-shard", "does not exist"),
        ("st-sharded-index-extra-tensor", "does not contain it"),
        ("st-sharded-unlisted-tensor", "does not list"),
    ])
    func malformedInputIsRefusedClearly(file: String, problem: String) throws {
        let path = Fixtures.path("bad/\(file)")
        let error = try #require(throws: (any Error).self) { _ = try Checkpoint(path: path) }
        let message = String(describing: error)
        #expect(message.contains(problem), "\(message)")
        #expect(message.contains(Paths.lastComponent(of: path)) || message.contains("index.json"), "\(message)")
        #expect(!message.contains("\n"))
    }

    @Test func goodBaseFileOfTheMalformedSetIsAccepted() throws {
        let file = try SafetensorsFile(path: Fixtures.path("bad/st-good.safetensors"))
        #expect(!file.tensors.isEmpty)
    }
}
