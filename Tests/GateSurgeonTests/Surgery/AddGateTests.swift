import GateSurgeon
import GateSurgeonCommands
import JSON
import Testing

/// add-gate against reference gated checkpoints built by the fixtures
/// generator with torch (zero gate, o_proj * 2): the paper's official code's
/// layout for every dense family (loaded strictly by that code, logits equal
/// to transformers'), transformers' Qwen3.5 and Qwen3.5-MoE for the
/// qwen3-next layout, and the separate layout.
@Suite struct AddGateTests {
    struct Reference: Sendable, CustomStringConvertible {
        var model: String
        var reference: String
        var options: [String]
        /// Keys of config.json the reference's runtime reads.
        var keys: [String]
        /// Tensors whose values are fresh random weights, not a reference's.
        var random: Set<String> = []
        var description: String { reference }
    }

    static let officialKeys = ["architectures", "model_type", "elementwise_attn_output_gate", "headwise_attn_output_gate", "use_qk_norm",
                               "qkv_bias", "head_dim", "num_attention_heads", "num_key_value_heads", "hidden_size", "intermediate_size",
                               "num_hidden_layers", "vocab_size", "rms_norm_eps", "rope_theta", "rope_scaling", "use_sliding_window",
                               "sliding_window", "max_window_layers", "tie_word_embeddings", "max_position_embeddings"]
    static let qwen35Keys = ["architectures", "model_type", "attn_output_gate", "layer_types", "rope_parameters", "head_dim",
                             "num_attention_heads", "num_key_value_heads", "num_experts", "num_experts_per_tok", "moe_intermediate_size",
                             "shared_expert_intermediate_size"]

    static let references: [Reference] = ["llama", "mistral", "qwen2", "qwen3"].flatMap { model in
        ["elementwise", "headwise"].map { granularity in
            Reference(model: model, reference: "official/\(model)-\(granularity)", options: ["--granularity", granularity], keys: officialKeys)
        }
    } + [
        Reference(model: "qwen3", reference: "qwen3-next", options: ["--layout", "qwen3-next"], keys: qwen35Keys),
        Reference(model: "qwen3_moe", reference: "qwen3_moe-to-qwen3_5_moe", options: [], keys: qwen35Keys,
                  random: ["mlp.shared_expert.gate_proj.weight", "mlp.shared_expert.up_proj.weight"]),
        Reference(model: "qwen3", reference: "qwen3-separate-elementwise", options: ["--layout", "separate"], keys: ["architectures", "model_type"]),
        Reference(model: "qwen3", reference: "qwen3-separate-headwise", options: ["--layout", "separate", "--granularity", "headwise"],
                  keys: ["architectures", "model_type"]),
    ]

    /// Tensor for tensor, bit for bit: same names, shapes, dtypes and bytes;
    /// the config keys the runtime reads; tokenizer files carried along; and
    /// the output computes what the input did (exactly: zero gates, o_proj x2).
    @Test(arguments: references)
    func matchesTheReferenceCheckpoint(case reference: Reference) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let output = Paths.join(directory, "gated/")
        try CLI.succeed(["add-gate", Fixtures.path("models/\(reference.model)"), output, "--verify"] + reference.options)
        let ours = try Checkpoint(path: output)
        let expected = try Checkpoint(path: Fixtures.path("reference/gated/\(reference.reference)"))
        #expect(Set(ours.tensors.map(\.name)) == Set(expected.tensors.map(\.name)))
        for tensor in expected.tensors {
            let mine = try #require(ours.tensors.first { $0.name == tensor.name })
            #expect(mine.shape == tensor.shape, "\(tensor.name)")
            #expect(mine.dtype == tensor.dtype, "\(tensor.name)")
            if reference.random.contains(where: { tensor.name.hasSuffix($0) }) {
                // Fresh N(0, initializer_range) weights where the reference has zeros.
                let values = try TensorExpression.stored(mine).allValues()
                #expect(values.contains { $0 != 0 } && values.allSatisfy { $0.isFinite }, "\(tensor.name)")
            } else {
                #expect(mine.withBytes { Array($0) } == tensor.withBytes { Array($0) }, "\(tensor.name)")
            }
        }
        let config = try JSONValue.parse(try Paths.readFile(Paths.join(output, "config.json")))
        let expectedConfig = try JSONValue.parse(try Paths.readFile(Fixtures.path("reference/gated/\(reference.reference)/config.json")))
        for key in reference.keys where expectedConfig[key] != nil {
            #expect(config[key] == expectedConfig[key], "config key \(key)")
        }
        #expect(Paths.exists(Paths.join(output, "tokenizer.json")))
        #expect(try ModelGraph(checkpoint: ours).config.gate != nil)
    }

    /// The official-layout outputs run in gatesurgeon as the official code ran
    /// them: its logits (transformers 4.51.3, its Qwen3ForCausalLM) to 1e-4,
    /// as for every model (the official code divides attention scores by
    /// sqrt(head_dim) where transformers multiplies: ~2e-6 apart).
    @Test(arguments: ["llama", "mistral", "qwen2", "qwen3"].flatMap { model in ["elementwise", "headwise"].map { "\(model)-\($0)" } })
    func officialLayoutRunsAsTheOfficialCode(name: String) throws {
        let reference = try Fixtures.tensors("reference/logits/official-\(name).safetensors")
        let graph = try Fixtures.graph("reference/gated/official/\(name)")
        #expect(graph.config.family == .qwen3)
        let result = try ForwardPass(graph: graph).run(tokens: Fixtures.referenceTokens)
        #expect(Fixtures.maxAbsDifference(result.logits, try #require(reference["logits"]).values) <= 1e-4)
        for report in result.layers { #expect(report.meanGateScore == 0.5) }
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
            return try #require(gated.layers[0][.gate]).values()
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
        (["models/llama", "--layout", "qwen3-next"], "cannot carry a llama model"),
        (["models/mixtral", "--layout", "gated-attention"], "cannot carry a mixtral model"),
        (["models/qwen3_moe-norm_topk_false", "--layout", "qwen3-next"], "always renormalises the top-k expert weights"),
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
        let before = try #require(graph.layers[0][.output])
        let after = try #require(gated.layers[0][.output])
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
