import GateSurgeon
import GateSurgeonCommands
import JSON
import Testing

/// Well-formed GGUF files whose metadata or tensor shapes carry hostile
/// values, made from llama.cpp's converted fixtures/gguf/llama-f32.gguf
/// (head size 8, 4 heads, 2 KV heads, Llama 3 `rope_freqs.weight`). The
/// parsers accept them; everything that builds the model must refuse them
/// with one line naming the file and the key or tensor, before a value sizes
/// an allocation or a loop.
@Suite struct HostileMetadataTests {
    /// The fixture with `edit` applied to its metadata and tensors, written to `directory`.
    static func editedLlama(
        in directory: String, _ edit: (inout Metadata<GGUFValue>, inout [OutputTensor]) -> Void
    ) throws -> String {
        let source = try GGUFFile(path: Fixtures.path("gguf/llama-f32.gguf"))
        var metadata = source.metadata
        var tensors = source.tensors.map { OutputTensor.copying($0) }
        edit(&metadata, &tensors)
        let path = Paths.join(directory, "model.gguf")
        try GGUFWriter.write(metadata: metadata, tensors: tensors, to: path)
        return path
    }

    static func replacingTensor(_ name: String, with tensor: OutputTensor, in tensors: inout [OutputTensor]) {
        tensors = tensors.map { $0.name == name ? tensor : $0 }
    }

    /// (case, edit, text of the error): each once crashed, trapped, hung or
    /// allocated terabytes in some command.
    static let cases: [(String, @Sendable (inout Metadata<GGUFValue>, inout [OutputTensor]) -> Void, String)] = [
        // RoPE past the head: an out-of-bounds read and write in applyRope.
        ("rope.dimension_count above the head size", { m, _ in m["llama.rope.dimension_count"] = .uint32(16) },
         "'llama.rope.dimension_count': 16 is not an even count of at most the head size 8"),
        // Double to Int trapped on the factor derived from it.
        ("huge rope.dimension_count", { m, _ in m["llama.rope.dimension_count"] = .uint64(1 << 62) }, "'llama.rope.dimension_count'"),
        ("odd rope.dimension_count", { m, _ in m["llama.rope.dimension_count"] = .uint32(7) },
         "'llama.rope.dimension_count': 7 is not an even count"),
        // Looped 2^62 times permuting attn_q rows.
        ("head_count 2^62", { m, _ in m["llama.attention.head_count"] = .uint64(1 << 62) }, "'llama.attention.head_count'"),
        // Overflowed in the Llama 3 scaling search over original context lengths.
        ("huge context_length with rope_freqs", { m, _ in m["llama.context_length"] = .uint64(1 << 40) }, "'max_position_embeddings'"),
        // Indexed shape[0] of a 0-dimensional tensor.
        ("0-dimensional attn_q", { _, t in
            replacingTensor("blk.0.attn_q.weight", with: .floats([1], name: "blk.0.attn_q.weight", shape: []), in: &t)
        }, "tensor 'blk.0.attn_q.weight' has shape [], expected [32, 32]"),
        // A row permutation sized by 2^40 declared rows of 0 bytes: an 8 TB allocation.
        ("0-byte attn_q of 2^40 rows", { _, t in
            replacingTensor("blk.0.attn_q.weight", with: .bytes([], name: "blk.0.attn_q.weight", dtype: .f32, shape: [1 << 40, 0]), in: &t)
        }, "tensor 'blk.0.attn_q.weight' has shape [1099511627776, 0], expected [32, 32]"),
        ("head_dim overflowing the query rows", { m, _ in m["llama.attention.key_length"] = .uint64(1 << 40) }, "'head_dim'"),
    ]

    @Test(arguments: 0..<cases.count)
    func hostileMetadataIsRefusedByEveryModelCommand(index: Int) throws {
        let (name, edit, problem) = Self.cases[index]
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let input = try Self.editedLlama(in: directory, edit)
        let commands: [[String]] = [
            ["forward", input, "--tokens", "1,2,3"],
            ["verify", input, input, "--tokens", "1,2,3"],
            ["convert", input, Paths.join(directory, "out.safetensors")],
            ["add-gate", input, Paths.join(directory, "gated.gguf")],
        ]
        for arguments in commands {
            let outcome = CLI.run(arguments)
            let message = outcome.errorOutput
            #expect(outcome.status == 2, "\(name), \(arguments[0]): \(message)")
            #expect(message.hasPrefix("error: \(input)"), "\(name): \(message)")
            #expect(message.contains(problem), "\(name): \(message)")
            #expect(message.hasSuffix("\n") && !message.dropLast().contains("\n"), "one line: \(message)")
            #expect(Paths.entries(of: directory) == ["model.gguf"], "nothing written")
        }
        // Listing needs no model: inspect reads the file and exits cleanly.
        let listing = CLI.run(["inspect", input, "--stats"])
        #expect(listing.status == 0, "\(name): \(listing.errorOutput)")
    }

    /// The unmodified fixture passes every command above, so the refusals come from the edits.
    @Test func unmodifiedFixtureIsAccepted() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let input = try Self.editedLlama(in: directory) { _, _ in }
        try CLI.succeed(["forward", input, "--tokens", "1,2,3"])
        try CLI.succeed(["convert", input, Paths.join(directory, "out.safetensors")])
    }

    /// transformers computes int(head_dim * partial_rotary_factor) rotary
    /// dimensions; RoPE rotates pairs, so an odd count is refused.
    @Test func oddRotaryDimensionsFromConfigAreRefused() throws {
        var config = try #require(Fixtures.json("models/llama/config.json").objectValue)
        config["partial_rotary_factor"] = .double(0.375)
        #expect {
            try ModelConfig(transformersConfig: config, path: "config.json")
        } throws: { error in
            "\(error)".contains("rotates 3 dimensions of a head of 8")
        }
        config["partial_rotary_factor"] = .double(0.5)
        #expect(try ModelConfig(transformersConfig: config, path: "config.json").rotaryDimensions == 4)
    }

    /// A model with a bias on some of q_proj, k_proj and v_proj is refused:
    /// both transformers and llama.cpp give all three or none.
    @Test(arguments: [["q_proj"], ["k_proj", "v_proj"]])
    func queryKeyValueBiasesComeTogether(projections: [String]) throws {
        let graph = try Fixtures.graph("models/llama")
        var tensors = graph.allTensors
        for projection in projections {
            let rows = projection == "q_proj" ? graph.config.queryRows : graph.config.keyValueRows
            tensors.append(GraphTensor(name: "model.layers.1.self_attn.\(projection).bias", shape: [rows], dtype: .f32,
                                       expression: .zeros(rowCount: 1, rowElements: rows)))
        }
        #expect {
            try ModelGraph(config: graph.config, tensors: tensors)
        } throws: { error in
            "\(error)".contains("layer 1 has a bias for \(projections.joined(separator: " and ")) only")
        }
        let all = ["q_proj", "k_proj", "v_proj"].map { projection in
            let rows = projection == "q_proj" ? graph.config.queryRows : graph.config.keyValueRows
            return GraphTensor(name: "model.layers.1.self_attn.\(projection).bias", shape: [rows], dtype: .f32,
                               expression: .zeros(rowCount: 1, rowElements: rows))
        }
        let biased = try ModelGraph(config: graph.config, tensors: graph.allTensors + all)
        #expect(biased.layers[1].attention.queryBias != nil && biased.layers[0].attention.queryBias == nil)
    }

    /// Found by Tests/Fuzz (fuzz-semantic, input Tests/Fuzz/regressions/semantic-fused-gate-to-gguf.json:
    /// the Mistral fixture's config with `headwise_attn_output_gate`): planning
    /// GGUF output for a Llama-family model whose gate is fused into q_proj hit
    /// the precondition of the RoPE row permutation (heads of 9 rows). GGUF
    /// carries no fused gate for these architectures, so the plan is refused.
    @Test func fusedGateCannotBecomeGGUF() throws {
        let regression = try Fixtures.bytes(Paths.join(Fixtures.root, "Tests/Fuzz/regressions/semantic-fused-gate-to-gguf.json"))
        let config = try ModelConfig(transformersConfig: try #require(JSONValue.parse(regression).objectValue), path: "config.json")
        #expect(config.family == .mistral && config.gate == GateSpec(layout: .gatedAttention, granularity: .headwise))
        let queryRows = config.queryRows + config.gateRows(.headwise)
        let tensors = try Fixtures.graph("models/mistral").allTensors.map { tensor in
            guard tensor.name.hasSuffix("q_proj.weight") else { return tensor }
            return GraphTensor(name: tensor.name, shape: [queryRows, config.hiddenSize], dtype: .f32,
                               expression: .zeros(rowCount: queryRows, rowElements: config.hiddenSize))
        }
        let graph = try ModelGraph(config: config, tensors: tensors)
        #expect {
            try ModelWriter.plan(graph, format: .gguf, policy: ConversionPolicy())
        } throws: { error in
            // The library says why; only the command names the option that helps.
            "\(error)".contains("its gated-attention gate is fused into q_proj, which a mistral GGUF cannot carry")
                && !"\(error)".contains("--") && !"\(error)".contains("add-gate")
        }
        #expect(try ModelWriter.plan(graph, format: .safetensors, policy: ConversionPolicy()).count == tensors.count)
    }

    /// What add-gate writes by default (the gated-attention layout, model_type
    /// qwen3) converted to GGUF: once a q_proj with extra rows that llama.cpp
    /// cannot load, now refused with nothing written.
    @Test func gatedAttentionCheckpointIsNotConvertedToGGUF() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let gated = Paths.join(directory, "gated")
        try CLI.succeed(["add-gate", Fixtures.path("models/mistral"), gated + "/", "--granularity", "headwise"])
        let output = Paths.join(directory, "gated.gguf")
        let outcome = CLI.run(["convert", gated, output])
        #expect(outcome.status == 2)
        #expect(outcome.errorOutput.contains("its gated-attention gate is fused into q_proj, which a qwen3 GGUF cannot carry"), "\(outcome.errorOutput)")
        #expect(outcome.errorOutput.contains("; add the gate to the ungated model with add-gate --layout separate instead"), "\(outcome.errorOutput)")
        #expect(!outcome.errorOutput.dropLast().contains("\n"))
        #expect(!Paths.exists(output))
        try CLI.succeed(["convert", gated, Paths.join(directory, "gated.safetensors")])
    }
}
