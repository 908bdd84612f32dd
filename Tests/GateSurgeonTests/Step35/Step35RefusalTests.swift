import GateSurgeon
import JSON
import Testing

/// What step35 cannot compute is refused with the reason (or, by default,
/// written in the family's own architecture with the reason in add-gate's
/// summary), and a step35 file of another shape is refused when read.
@Suite struct Step35RefusalTests {
    /// (arguments after the input, the input, text of the one-line error).
    static let writeRefusals: [(input: String, arguments: [String], problem: String)] = [
        // llama.cpp's step35 scales RoPE in full-attention layers only, and needs a sliding-window layer.
        ("models/llama", ["--granularity", "headwise"], "llama3 RoPE scaling"),
        ("models/qwen3", ["--granularity", "elementwise"], "one gate per head"),
        ("models/qwen2_moe", ["--granularity", "headwise"], "shared_expert_gate"),
        ("models/olmo2", ["--granularity", "headwise"], "Olmo2ForCausalLM has parts it lacks"),
    ]

    @Test(arguments: 0..<writeRefusals.count)
    func step35RefusesWhatItCannotCompute(index: Int) throws {
        let (input, arguments, problem) = Self.writeRefusals[index]
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let output = Paths.join(directory, "out.gguf")
        let outcome = CLI.run(["add-gate", Fixtures.path(input), output, "--gguf-arch", "step35", "--quiet"] + arguments)
        #expect(outcome.status == 2)
        #expect(outcome.errorOutput.contains("cannot be written as llama.cpp's step35 architecture") && outcome.errorOutput.contains(problem),
                "\(outcome.errorOutput)")
        #expect(outcome.errorOutput.split(separator: "\n").count == 1)
        #expect(Paths.entries(of: directory).isEmpty, "nothing written")
    }

    /// By default such a model goes into its family's own architecture, and
    /// the plan (which --quiet silences) says why llama.cpp does not run it.
    @Test func automaticChoiceFallsBackWithTheReason() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let headwise = Paths.join(directory, "llama.gguf")
        let outcome = try CLI.succeed(["add-gate", Fixtures.path("models/llama"), headwise, "--granularity", "headwise"])
        #expect(try GGUFFile(path: headwise).architecture == "llama")
        #expect(outcome.output.contains("not elsewhere: llama.cpp does not load it") && outcome.output.contains("llama3 RoPE scaling"), "\(outcome.output)")
        let elementwise = Paths.join(directory, "qwen3.gguf")
        let second = try CLI.succeed(["add-gate", Fixtures.path("models/qwen3"), elementwise])
        #expect(try GGUFFile(path: elementwise).architecture == "qwen3")
        #expect(second.output.contains(CheckpointLoaders.elementwiseInLlamaCpp), "\(second.output)")
        let runs = Paths.join(directory, "qwen3-headwise.gguf")
        let third = try CLI.succeed(["add-gate", Fixtures.path("models/qwen3"), runs, "--granularity", "headwise", "--json", "--quiet"])
        let document = try JSONValue.parse(Array(third.output.utf8))
        #expect(document["gguf_architecture"] == .string("step35"))
        #expect(document["gate"]?["loaders"] == .array([.string("llama.cpp"), .string("gatesurgeon")]))
    }

    @Test func ggufArchitectureNeedsGGUFOutput() {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let outcome = CLI.run(["convert", Fixtures.path("models/qwen3"), Paths.join(directory, "out/"), "--gguf-arch", "step35"])
        #expect(outcome.status == 2 && outcome.errorOutput.contains("--gguf-arch applies to GGUF output"), "\(outcome.errorOutput)")
    }

    /// An o_proj bias (the paper's code gives one to biased models) is
    /// dropped when it is zero and refused when training moved it.
    @Test func outputBiasMustBeZero() throws {
        let (gated, _) = try GateInsertion(layout: .separate, granularity: .headwise).apply(to: try Fixtures.graph("models/qwen2"))
        let D = gated.config.hiddenSize
        func withBias(_ value: Float) throws -> ModelGraph {
            var graph = gated
            graph.layers[1][.outputBias] = GraphTensor(name: "model.layers.1.self_attn.o_proj.bias", shape: [D], dtype: .f32,
                                                       expression: .values([Float](repeating: value, count: D), rowCount: 1))
            return graph
        }
        let zero = try withBias(0).preparedForGGUF(.step35)
        #expect(zero.config.architecture.isStep35 && zero.layers[1][.outputBias] == nil)
        #expect(throws: ModelError.self) { try withBias(0.25).preparedForGGUF(.step35) }
        do {
            _ = try withBias(0.25).preparedForGGUF(.step35)
        } catch let error as ModelError {
            #expect(error.problem.contains("layer 1's o_proj has a bias"), "\(error)")
        }
        #expect(try !withBias(0.25).preparedForGGUF(.automatic).config.architecture.isStep35)
    }

    // MARK: Reading

    /// The zero-gated step35 file of `model` (Qwen3 by default), with `edit`
    /// applied to its metadata and tensors.
    static func editedStep35(in directory: String, model: String = "reference/step35/models/qwen3",
                             _ edit: (inout Metadata<GGUFValue>, inout [OutputTensor]) -> Void) throws -> String {
        let source = Paths.join(directory, "source.gguf")
        try CLI.succeed(["add-gate", Fixtures.path(model), source, "--granularity", "headwise", "--quiet"])
        let file = try GGUFFile(path: source)
        var metadata = file.metadata
        var tensors = file.tensors.map { OutputTensor.copying($0) }
        edit(&metadata, &tensors)
        let path = Paths.join(directory, "edited.gguf")
        try GGUFWriter.write(metadata: metadata, tensors: tensors, to: path)
        return path
    }

    /// (case, model, edit, text of the error).
    static let readRefusals: [(String, String?, @Sendable (inout Metadata<GGUFValue>, inout [OutputTensor]) -> Void, String)] = [
        // Real Step-3.5 layout: full-attention layers rotating half the head.
        ("half-rotary full-attention layers", nil, { m, _ in
            m["step35.attention.sliding_window_pattern"] = .array(elementType: .bool, values: [.bool(false), .bool(true), .bool(true)])
        }, "layer 0 rotates 8 of its 16 head dimensions"),
        ("per-layer head counts", nil, { m, _ in
            m["step35.attention.head_count"] = .array(elementType: .uint32, values: [.uint32(8), .uint32(8), .uint32(8)])
        }, "step35.attention.head_count differs per layer"),
        ("multi-token prediction", nil, { m, _ in m["step35.nextn_predict_layers"] = .uint32(1) }, "multi-token prediction layers"),
        ("no layer pattern", nil, { m, _ in m["step35.attention.sliding_window_pattern"] = nil }, "sliding_window_pattern': missing"),
        ("pattern of the wrong length", nil, { m, _ in
            m["step35.attention.sliding_window_pattern"] = .array(elementType: .bool, values: [.bool(true)])
        }, "lists 1 layers, block_count is 3"),
        ("different RoPE bases", nil, { m, _ in
            m["step35.rope.dimension_count"] = .uint32(32)
            m["step35.rope.dimension_count_swa"] = .uint32(16)
            m["step35.attention.sliding_window_pattern"] = .array(elementType: .bool, values: [.bool(false), .bool(true), .bool(true)])
            m["step35.rope.freq_base_swa"] = .float32(500)
        }, "RoPE base 500.0, the others 10000.0"),
        ("rope_freqs", nil, { _, t in t.append(.floats([Float](repeating: 1, count: 8), name: "rope_freqs.weight", shape: [8])) },
         "rope_freqs.weight: RoPE frequency factors"),
        ("windows on some layers without Qwen's parts", "reference/step35/models/llama", { m, _ in
            m["step35.attention.sliding_window"] = .uint32(4)
            m["step35.rope.dimension_count"] = .uint32(32)
            m["step35.rope.dimension_count_swa"] = .uint32(16)
            m["step35.attention.sliding_window_pattern"] = .array(elementType: .bool, values: [.bool(false), .bool(true), .bool(true)])
        }, "sliding-window layers 1, 2 only"),
        ("a sigmoid router", "models/qwen3_moe", { m, _ in m["step35.expert_gating_func"] = nil }, "its router is not a softmax"),
        ("a trained shared expert", "models/mixtral", { _, t in
            t = t.map { $0.name == "blk.0.ffn_down_shexp.weight" ? .floats([Float](repeating: 0.5, count: 32 * 32), name: $0.name, shape: [32, 32]) : $0 }
        }, "blk.0.ffn_down_shexp.weight is not zero"),
        ("no shared expert", "models/mixtral", { _, t in t.removeAll { $0.name.hasPrefix("blk.1.") && $0.name.contains("shexp") } },
         "layer 1 lacks the shared expert"),
    ]

    @Test(arguments: 0..<readRefusals.count)
    func otherStep35FilesAreRefused(index: Int) throws {
        let (name, model, edit, problem) = Self.readRefusals[index]
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let path = try Self.editedStep35(in: directory, model: model ?? "reference/step35/models/qwen3", edit)
        #expect(throws: ModelError.self, "\(name)") { try ModelGraph(checkpoint: Checkpoint(path: path)) }
        for command in [["forward", path, "--tokens", "1,2,3"], ["convert", path, Paths.join(directory, "out/")]] {
            let outcome = CLI.run(command + ["--quiet"])
            #expect(outcome.status == 2, "\(name): \(command[0])")
            #expect(outcome.errorOutput.hasPrefix("error: \(path): ") && outcome.errorOutput.contains(problem), "\(name): \(outcome.errorOutput)")
        }
        #expect(!Paths.exists(Paths.join(directory, "out")))
    }

    /// The shape the first hand-made file had, and every writer of
    /// step35 may choose: a window at least the context long is full attention.
    @Test func windowBeyondTheContextIsFullAttention() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let path = try Self.editedStep35(in: directory) { m, _ in m["step35.attention.sliding_window"] = .uint32(128) }
        let graph = try ModelGraph(checkpoint: Checkpoint(path: path))
        #expect(graph.config.family == .qwen3 && !graph.config.slidingLayers.contains(true) && graph.config.slidingWindow == nil)
        let narrower = try Self.editedStep35(in: Fixtures.temporaryDirectory()) { m, _ in m["step35.attention.sliding_window"] = .uint32(127) }
        defer { Fixtures.remove(Paths.directory(of: narrower)) }
        let windowed = try ModelGraph(checkpoint: Checkpoint(path: narrower))
        #expect(windowed.config.slidingWindow == 127 && windowed.config.slidingLayers == [true, true, true])
    }
}
