import ArgumentParser
import GateSurgeon
import GateSurgeonCommands
import JSON
import Testing

/// convert against llama.cpp's own converter (convert_hf_to_gguf.py from the
/// llama-cpp-python sdist pinned in fixtures/requirements.txt).
@Suite struct ConvertTests {
    static let outtypes: [(String, [String], DType)] = [
        ("f32", ["--dtype", "f32"], .f32),
        ("f16", ["--dtype", "f16"], .f16),
        ("bf16", ["--dtype", "bf16"], .bf16),
        ("q8_0", ["--quant", "q8_0", "--pure"], .q8_0),
    ]

    static let cases: [(String, String, [String], DType)] = Fixtures.modelNames.flatMap { model in
        outtypes.map { (model, $0.0, $0.1, $0.2) }
    }

    /// Same tensor names, order, types, shapes and data bytes, and the same
    /// architecture and tokenizer metadata as the converter's file.
    @Test(arguments: cases)
    func safetensorsToGGUFMatchesLlamaCpp(model: String, outtype: String, options: [String], type: DType) throws {
        try Self.expectConverterParity(model: model, outtype: outtype, options: options)
    }

    /// Converts `models/<model>` with `options` and compares with
    /// `gguf/<model>-<outtype>.gguf`.
    static func expectConverterParity(model: String, source: String? = nil, outtype: String, options: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let output = Paths.join(directory, "\(model).gguf")
        try CLI.succeed(["convert", Fixtures.path(source ?? "models/\(model)"), output] + options)
        // llama-q8_0.gguf is llama-quantize's output (fixtures/gguf/quantize-types.json),
        // which orders tensors its own way; the converter's files keep the source order.
        let fromQuantize = try Fixtures.json("gguf/quantize-types.json")["\(model)-\(outtype).gguf"] != nil
        let reference = Fixtures.path("gguf/\(model)-\(outtype).gguf")
        try expectSameTensors(output, reference, ordered: !fromQuantize, sourceLocation: sourceLocation)
        let ours = try GGUFFile(path: output)
        let expected = try GGUFFile(path: reference)
        let architecture = try #require(expected.architecture)
        for (key, value) in expected.metadata where key.hasPrefix(architecture + ".") || key.hasPrefix("tokenizer.") || key == "general.file_type" || key == "general.architecture" {
            #expect(ours.value(key) == value, "metadata \(key)", sourceLocation: sourceLocation)
        }
        let ourKeys = ours.metadata.keys.filter { $0.hasPrefix(architecture + ".") }
        #expect(ourKeys == expected.metadata.keys.filter { $0.hasPrefix(architecture + ".") }, "the same keys in the same order", sourceLocation: sourceLocation)
    }

    /// Same tensor names (in order when `ordered`), types, shapes and bytes.
    static func expectSameTensors(_ path: String, _ referencePath: String, ordered: Bool, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let ours = try GGUFFile(path: path)
        let reference = try GGUFFile(path: referencePath)
        if ordered {
            #expect(ours.tensors.map(\.name) == reference.tensors.map(\.name), sourceLocation: sourceLocation)
        } else {
            #expect(Set(ours.tensors.map(\.name)) == Set(reference.tensors.map(\.name)), sourceLocation: sourceLocation)
        }
        for expected in reference.tensors {
            let mine = try #require(ours.tensors.first { $0.name == expected.name }, sourceLocation: sourceLocation)
            #expect(mine.dtype == expected.dtype, "\(expected.name)", sourceLocation: sourceLocation)
            #expect(mine.shape == expected.shape, "\(expected.name)", sourceLocation: sourceLocation)
            #expect(mine.withBytes { Array($0) } == expected.withBytes { Array($0) }, "\(expected.name) data", sourceLocation: sourceLocation)
        }
    }

    /// safetensors -> GGUF -> safetensors gives the original tensors byte
    /// for byte (the Llama Q/K permutation undone) and an equivalent config.
    @Test(arguments: Fixtures.modelNames)
    func roundTripThroughGGUFIsExact(model: String) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let gguf = Paths.join(directory, "model.gguf")
        let back = Paths.join(directory, "back")
        try CLI.succeed(["convert", Fixtures.path("models/\(model)"), gguf])
        try CLI.succeed(["convert", gguf, back])
        let original = try SafetensorsFile(path: Fixtures.path("models/\(model)/model.safetensors"))
        let roundTrip = try SafetensorsCheckpoint(directory: back)
        #expect(Set(roundTrip.tensors.map(\.name)) == Set(original.tensors.map(\.name)))
        for tensor in original.tensors {
            let other = try #require(roundTrip.tensors.first { $0.name == tensor.name })
            #expect(other.dtype == tensor.dtype && other.shape == tensor.shape, "\(tensor.name)")
            #expect(other.withBytes { Array($0) } == tensor.withBytes { Array($0) }, "\(tensor.name)")
        }
        let before = try ModelGraph(checkpoint: try Checkpoint(path: Fixtures.path("models/\(model)"))).config
        let after = try ModelGraph(checkpoint: try Checkpoint(path: back)).config
        #expect(after.family == before.family || (before.family == .mistral && after.family == .llama))
        #expect(after.hiddenSize == before.hiddenSize && after.headCount == before.headCount && after.kvHeadCount == before.kvHeadCount)
        #expect(after.headDim == before.headDim && after.vocabSize == before.vocabSize && after.layerCount == before.layerCount)
        #expect(after.rope.theta == before.rope.theta && after.tieWordEmbeddings == before.tieWordEmbeddings)
        // Llama 3 scaling travels as rope_freqs.weight in GGUF and comes back as rope_scaling.
        #expect(after.rope.scaling == before.rope.scaling)
        #expect(Float(after.rmsNormEps) == Float(before.rmsNormEps))
    }

    /// The Llama q/k row permutation is its own kind of mistake when wrong:
    /// check it against the converter's rows directly.
    @Test func llamaQueryRowsArePermutedAsLlamaCppDoes() throws {
        let original = try SafetensorsFile(path: Fixtures.path("models/llama/model.safetensors"))
        let reference = try GGUFFile(path: Fixtures.path("gguf/llama-f32.gguf"))
        let hf = try Fixtures.floats(original, "model.layers.0.self_attn.q_proj.weight")
        let gguf = try TensorExpression.stored(try #require(reference.tensors.first { $0.name == "blk.0.attn_q.weight" })).allValues()
        let permutation = GGUFTensorTransform.ropeRowPermutation(rows: 32, heads: 4)
        #expect(permutation != Array(0..<32))
        for (ggufRow, hfRow) in permutation.enumerated() {
            #expect(Array(gguf[(ggufRow * 32)..<((ggufRow + 1) * 32)]) == Array(hf[(hfRow * 32)..<((hfRow + 1) * 32)]))
        }
    }

    @Test func outputsAreAtomicAndInputsUntouched() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let input = Fixtures.path("models/qwen2/model.safetensors")
        let before = try Fixtures.bytes(input)
        let output = Paths.join(directory, "out.gguf")
        try CLI.succeed(["convert", Fixtures.path("models/qwen2"), output])
        #expect(CLI.run(["convert", Fixtures.path("models/qwen2"), output]).status == 2)
        try CLI.succeed(["convert", Fixtures.path("models/qwen2"), output, "--force"])
        #expect(try Fixtures.bytes(input) == before)
        #expect(Paths.entries(of: directory) == ["out.gguf"])
        // A failing conversion leaves nothing behind.
        #expect(CLI.run(["convert", Fixtures.path("bad/st-overlap.safetensors"), Paths.join(directory, "x.gguf")]).status == 2)
        #expect(Paths.entries(of: directory) == ["out.gguf"])
    }

    @Test(arguments: [
        (["--dtype", "q4_0"], "'q4_0' is invalid for '--dtype"),
        (["--quant", "bf16"], "use --dtype"),
        (["--max-shard-size", "lots"], "needs a unit"),
    ])
    func rejectsBadArguments(options: [String], message: String) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let outcome = CLI.run(["convert", Fixtures.path("models/qwen2"), Paths.join(directory, "unused.gguf")] + options)
        #expect(outcome.status == 2)
        #expect(outcome.errorOutput.contains(message), "\(outcome.errorOutput)")
        #expect(Paths.entries(of: directory).isEmpty)
    }

    /// --verify holds conversions to what they can keep: exact when lossless,
    /// the per-type bound otherwise.
    @Test(arguments: [
        ("gguf/llama-q4_0.gguf", "out", [String]()),
        ("models/qwen3", "out.gguf", ["--dtype", "f32"]),
        ("models/llama", "out.gguf", ["--quant", "q8_0"]),
        ("models/qwen2", "out.safetensors", ["--dtype", "bf16"]),
    ])
    func verifyPassesOnConversions(input: String, output: String, options: [String]) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        try CLI.succeed(["convert", Fixtures.path(input), Paths.join(directory, output), "--verify"] + options)
    }

    @Test func thresholdsAreExactOnlyForLosslessPlans() throws {
        let graph = try ModelGraph(checkpoint: try Checkpoint(path: Fixtures.path("models/llama")))
        let lossless = try ModelWriter.plan(graph, format: .gguf, policy: ConversionPolicy())
        #expect(lossless.allSatisfy { $0.preservesValues })
        let quantized = try ModelWriter.plan(graph, format: .gguf, policy: ConversionPolicy(quantization: QuantizationRequest(options: QuantizationOptions(preset: .q4_0, pure: true))))
        #expect(quantized.contains { !$0.preservesValues })
        #expect(quantized.filter { $0.tensor.shape.count == 1 }.allSatisfy { $0.preservesValues })
    }

    /// A BF16 or F16 checkpoint survives safetensors -> GGUF -> safetensors
    /// byte for byte: GGUF keeps 1-D tensors in F32 (exact widening), and
    /// --dtype narrows them back exactly.
    @Test(arguments: ["bf16", "f16"])
    func halfPrecisionRoundTripIsExact(dtype: String) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let half = Paths.join(directory, "half")
        try CLI.succeed(["convert", Fixtures.path("models/qwen3"), half, "--dtype", dtype])
        try CLI.succeed(["convert", half, Paths.join(directory, "half.gguf")])
        try CLI.succeed(["convert", Paths.join(directory, "half.gguf"), Paths.join(directory, "back"), "--dtype", dtype])
        let original = try SafetensorsCheckpoint(directory: half)
        let back = try SafetensorsCheckpoint(directory: Paths.join(directory, "back"))
        #expect(original.tensors.allSatisfy { $0.dtype.name.lowercased() == dtype })
        for tensor in original.tensors {
            let other = try #require(back.tensors.first { $0.name == tensor.name })
            #expect(other.dtype == tensor.dtype && other.shape == tensor.shape, "\(tensor.name)")
            #expect(other.withBytes { Array($0) } == tensor.withBytes { Array($0) }, "\(tensor.name)")
        }
    }

    /// Narrowing that overflows is reported per tensor, never silent.
    @Test func overflowToF16IsReported() throws {
        var graph = try ModelGraph(checkpoint: try Checkpoint(path: Fixtures.path("models/qwen2")))
        graph.embedding.expression = .scaled(graph.embedding.expression, by: 1e6)
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let summary = try ModelWriter.write(graph, to: Paths.join(directory, "out.safetensors"),
                                            options: WriteOptions(policy: ConversionPolicy(dtype: .f16)))
        let embedding = try #require(summary.overflows.first { $0.tensor == "model.embed_tokens.weight" })
        let values = try graph.embedding.values()
        // F16 rounds magnitudes from 65520 up to infinity (65504 is its largest finite value).
        #expect(embedding.count == values.filter { abs($0) >= 65520 }.count)
        #expect(summary.overflows.count == 1)
    }

    /// GGUF in, GGUF out: un-permuting and re-permuting Llama's q/k rows
    /// collapses to the stored tensor, so the copy is a plain byte copy.
    @Test func permutationsCancelForGGUFToGGUF() throws {
        let graph = try ModelGraph(checkpoint: try Checkpoint(path: Fixtures.path("gguf/llama-q8_0.gguf")))
        guard case .rows = graph.layers[0][.query]?.expression else {
            Issue.record("q_proj read from GGUF should be a row gather")
            return
        }
        let plan = try ModelWriter.plan(graph, format: .gguf, policy: ConversionPolicy())
        let query = try #require(plan.first { $0.outputName == "blk.0.attn_q.weight" })
        #expect(query.expression.storedTensor?.name == "blk.0.attn_q.weight")
    }

    /// Quantizing llama.cpp's F32 file gives llama-quantize --pure's file
    /// byte for byte: metadata in its order, tensors, fallbacks included
    /// (rows of 32 make Q4_K fall back to Q5_0, Q2_K and Q3_K to Q4_0,
    /// IQ4_XS to IQ4_NL).
    @Test(arguments: ["q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q2_k", "q3_k", "iq4_nl", "iq4_xs"])
    func quantizingMatchesLlamaQuantize(type: String) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let output = Paths.join(directory, "out.gguf")
        try CLI.succeed(["convert", Fixtures.path("gguf/llama-f32.gguf"), output, "--quant", type, "--pure"])
        #expect(try Paths.readFile(output) == Paths.readFile(Fixtures.path("gguf/llama-\(type).gguf")))
        let ours = try GGUFFile(path: output)
        let reference = try GGUFFile(path: Fixtures.path("gguf/llama-\(type).gguf"))
        #expect(Set(ours.tensors.map(\.name)) == Set(reference.tensors.map(\.name)))
        for expected in reference.tensors {
            let mine = try #require(ours.tensors.first { $0.name == expected.name })
            #expect(mine.dtype == expected.dtype, "\(expected.name)")
            #expect(mine.withBytes { Array($0) } == expected.withBytes { Array($0) }, "\(expected.name)")
        }
        #expect(ours.value("general.file_type") == reference.value("general.file_type"))
    }

    /// Without tokenizer files the GGUF has no tokenizer and the summary
    /// says so; --tokenizer-from copies one from another GGUF.
    @Test func tokenizerCanComeFromAnotherGGUF() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let model = Paths.join(directory, "model")
        try Fixtures.copyDirectory(from: Fixtures.path("models/qwen2"), to: model)
        Paths.removeTree(Paths.join(model, "tokenizer.model"))
        Paths.removeTree(Paths.join(model, "tokenizer.json"))
        let graph = try ModelGraph(checkpoint: try Checkpoint(path: model))
        let bare = try ModelWriter.write(graph, to: Paths.join(directory, "bare.gguf"))
        #expect(bare.warnings == [.noTokenizer])
        #expect(try GGUFFile(path: Paths.join(directory, "bare.gguf")).value("tokenizer.ggml.model") == nil)

        let donor = Fixtures.path("gguf/qwen2-f32.gguf")
        try CLI.succeed(["convert", model, Paths.join(directory, "with.gguf"), "--tokenizer-from", donor])
        let ours = try GGUFFile(path: Paths.join(directory, "with.gguf"))
        let reference = try GGUFFile(path: donor)
        let expected = reference.metadata.filter { $0.key.hasPrefix("tokenizer.") }
        #expect(ours.metadata.filter { $0.key.hasPrefix("tokenizer.") }.map(\.key) == expected.map(\.key))
        for (key, value) in expected { #expect(ours.value(key) == value, "\(key)") }

        #expect(CLI.run(["convert", model, Paths.join(directory, "x.safetensors"), "--tokenizer-from", donor]).status == 2)
        #expect(CLI.run(["convert", model, Paths.join(directory, "y.gguf"), "--tokenizer-from", donor, "--tokenizer-pre", "qwen2"]).status == 2)
    }

    /// A lossy write that misses its bounds exits 1 and says which bound.
    /// (Q4_0 on this tiny random model moves the mean KL to about 0.15,
    /// above the 0.1 a 4-bit type is held to.)
    @Test func verifyFailsWhenTheOutputDrifts() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let outcome = CLI.run(["convert", Fixtures.path("models/llama"), Paths.join(directory, "out.gguf"), "--quant", "q4_0", "--verify"])
        #expect(outcome.status == 1)
        #expect(outcome.output.contains("--max-kld"), "the failure names the limit and its option")
    }
}
