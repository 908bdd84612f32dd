import GateSurgeon
import GateSurgeonCommands
import JSON
import Testing

/// add-gate against reference gated checkpoints that the fixtures generator
/// built from fixtures/models/qwen3 with torch (zero gate, o_proj * 2) and,
/// for the qwen3-next layout, loaded and saved with transformers'
/// Qwen3_5ForCausalLM.
@Suite struct AddGateTests {
    static let references: [(String, [String])] = [
        ("qwen3-gated-attention-elementwise", ["--layout", "gated-attention"]),
        ("qwen3-gated-attention-headwise", ["--layout", "gated-attention", "--granularity", "headwise"]),
        ("qwen3-next", ["--layout", "qwen3-next"]),
        ("qwen3-separate-elementwise", ["--layout", "separate"]),
        ("qwen3-separate-headwise", ["--layout", "separate", "--granularity", "headwise"]),
    ]

    /// Tensor for tensor, bit for bit: same names, shapes, dtypes and bytes.
    @Test(arguments: references)
    func matchesTheReferenceCheckpoint(reference: String, options: [String]) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let output = Paths.join(directory, "gated")
        try CLI.succeed(["add-gate", Fixtures.path("models/qwen3"), output] + options)
        let ours = try SafetensorsCheckpoint(directory: output)
        let expected = try SafetensorsFile(path: Fixtures.path("reference/gated/\(reference)/model.safetensors"))
        #expect(Set(ours.tensors.map(\.name)) == Set(expected.tensors.map(\.name)))
        for tensor in expected.tensors {
            let mine = try #require(ours.tensors.first { $0.name == tensor.name })
            #expect(mine.shape == tensor.shape, "\(tensor.name)")
            #expect(mine.dtype == tensor.dtype, "\(tensor.name)")
            #expect(mine.withBytes { Array($0) } == tensor.withBytes { Array($0) }, "\(tensor.name)")
        }
        // The keys each runtime reads agree with the reference config.
        let config = try JSONValue.parse(try Paths.readFile(Paths.join(output, "config.json")))
        let reference = try JSONValue.parse(try Paths.readFile(Fixtures.path("reference/gated/\(reference)/config.json")))
        for key in ["architectures", "model_type", "attn_output_gate", "elementwise_attn_output_gate", "headwise_attn_output_gate",
                    "use_qk_norm", "qkv_bias", "layer_types", "rope_parameters", "head_dim", "num_attention_heads", "num_key_value_heads"]
        where reference[key] != nil {
            #expect(config[key] == reference[key], "config key \(key)")
        }
        // Tokenizer files travel with a directory output.
        #expect(Paths.exists(Paths.join(output, "tokenizer.json")))
        // The output is a model gatesurgeon recognizes as gated.
        let regated = try ModelGraph(checkpoint: try Checkpoint(path: output))
        #expect(regated.config.gate != nil)
    }

    /// A single-file output carries its config in its own metadata: nothing
    /// is written beside it, and every command reads it back on its own,
    /// even next to another model's config.json.
    @Test func singleFileOutputCarriesItsConfig() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let gated = Paths.join(directory, "gated.safetensors")
        try CLI.succeed(["add-gate", Fixtures.path("models/qwen3/model.safetensors"), gated])
        try CLI.succeed(["add-gate", Fixtures.path("models/qwen3/model.safetensors"), Paths.join(directory, "second.safetensors"), "--layout", "separate"])
        #expect(Paths.entries(of: directory) == ["gated.safetensors", "second.safetensors"])
        let file = try SafetensorsFile(path: gated)
        let text = try #require(file.metadata?.first { $0.key == "config.json" }?.value)
        let config = try JSONValue.parse(Array(text.utf8))
        #expect(config["elementwise_attn_output_gate"] == .bool(true))
        // A stale config.json of another model beside the files changes nothing.
        try Paths.copyFile(from: Fixtures.path("models/llama/config.json"), to: Paths.join(directory, "config.json"))
        try CLI.succeed(["verify", Fixtures.path("models/qwen3/model.safetensors"), gated, "--max-abs", "0"])
        try CLI.succeed(["verify", gated, Paths.join(directory, "second.safetensors"), "--max-abs", "0"])
        try CLI.succeed(["inspect", gated])
    }

    @Test func partialLayersAddTensorsOnlyThere() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let output = Paths.join(directory, "out")
        try CLI.succeed(["add-gate", Fixtures.path("models/llama"), output, "--layers", "1", "--granularity", "headwise"])
        let checkpoint = try SafetensorsCheckpoint(directory: output)
        #expect(checkpoint.tensors.contains { $0.name == "model.layers.1.self_attn.g_proj.weight" && $0.shape == [4, 32] })
        #expect(!checkpoint.tensors.contains { $0.name == "model.layers.0.self_attn.g_proj.weight" })
        let graph = try ModelGraph(checkpoint: try Checkpoint(path: output))
        #expect(graph.config.gate == GateSpec(layout: .separate, granularity: .headwise, layers: [1]))
    }

    /// --init normal is deterministic for a seed, differs across seeds, and
    /// has the requested spread.
    @Test func normalInitIsSeededAndScaled() throws {
        let graph = try ModelGraph(checkpoint: try Checkpoint(path: Fixtures.path("models/qwen3")))
        func gate(seed: UInt64) throws -> [Float] {
            let insertion = GateInsertion(layout: .separate, initialization: .normal(std: 0.02, seed: seed))
            let (gated, _) = try insertion.apply(to: graph)
            return try #require(gated.layers[0].attention.gate).values()
        }
        let a = try gate(seed: 1)
        #expect(a == (try gate(seed: 1)))
        #expect(a != (try gate(seed: 2)))
        let mean = a.reduce(0, +) / Float(a.count)
        let std = (a.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(a.count)).squareRoot()
        // 4096 samples: the sample std is within 5% of 0.02 with overwhelming probability.
        #expect(abs(std - 0.02) < 0.001, "std \(std)")
        #expect(abs(mean) < 0.002, "mean \(mean)")
    }

    @Test(arguments: [
        (["reference/gated/qwen3-next"], "already gated"),
        (["reference/gated/qwen3-gated-attention-headwise"], "already gated"),
        (["reference/gated/qwen3-separate-elementwise"], "already gated"),
        (["models/llama", "--layout", "qwen3-next"], "needs a Qwen3"),
        (["models/qwen3", "--layout", "gated-attention", "--layers", "0"], "gates every layer"),
        (["models/qwen3", "--layout", "qwen3-next", "--granularity", "headwise"], "elementwise gates only"),
        (["models/qwen3", "--layers", "0-5", "--layout", "separate"], "layers 0-1"),
    ])
    func refusesWhatCannotBeDone(arguments: [String], problem: String) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let output = Paths.join(directory, "out")
        let outcome = CLI.run(["add-gate", Fixtures.path(arguments[0]), output] + arguments.dropFirst())
        #expect(outcome.status == 2)
        #expect(outcome.errorOutput.contains(problem), "\(outcome.errorOutput)")
        #expect(!Paths.exists(output))
        #expect(Paths.entries(of: directory).isEmpty, "partial output left behind")
    }

    /// o_proj doubled in a block type by doubling its F16 block scales: the
    /// dequantized values are exactly twice the input's.
    @Test func compensationIsExactForBlockTypes() throws {
        let graph = try ModelGraph(checkpoint: try Checkpoint(path: Fixtures.path("gguf/llama-q8_0.gguf")))
        let (gated, _) = try GateInsertion(layout: .separate).apply(to: graph)
        let before = graph.layers[0].attention.output
        let after = gated.layers[0].attention.output
        #expect(after.expression.isByteCopyable(as: .q8_0))
        var bytes: [UInt8] = []
        after.expression.appendRowBytes(0..<after.rows, as: .q8_0, to: &bytes)
        let original = before.expression.storedTensor!.withBytes { Array($0) }
        #expect(bytes.count == original.count)
        for block in stride(from: 0, to: bytes.count, by: 34) {
            let scale = Float(Float16(bitPattern: UInt16(original[block]) | UInt16(original[block + 1]) << 8))
            let doubled = Float(Float16(bitPattern: UInt16(bytes[block]) | UInt16(bytes[block + 1]) << 8))
            #expect(doubled == 2 * scale)
            #expect(bytes[(block + 2)..<(block + 34)] == original[(block + 2)..<(block + 34)])
        }
    }

    /// The README's main example: zero init verifies as exact, in every
    /// layout, with GGUF input and with a BF16 output too (to BF16 bounds).
    @Test(arguments: [
        ["models/qwen3/model.safetensors", "gated.safetensors"],
        ["models/qwen3", "gated", "--layout", "qwen3-next"],
        ["models/qwen2", "gated", "--granularity", "headwise"],
        ["gguf/llama-q8_0.gguf", "gated.gguf"],
        ["models/mistral", "gated", "--dtype", "bf16"],
    ])
    func verifyConfirmsTheGatedModel(arguments: [String]) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        try CLI.succeed(["add-gate", Fixtures.path(arguments[0]), Paths.join(directory, arguments[1]), "--verify"] + arguments.dropFirst(2))
    }
}
