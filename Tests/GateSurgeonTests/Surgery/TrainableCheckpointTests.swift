import GateSurgeon
import JSON
import Testing

/// Gated checkpoints in the stack people train with: stock transformers
/// (fixtures/reference/trainable/, step `trainable`: transformers loaded
/// every case strictly through the module add-gate wrote, computed the
/// ungated logits at zero init, gave every gate a gradient, and ran the
/// README's continued-training recipe, whose saved checkpoints are here).
@Suite("Gated checkpoints in stock transformers")
struct TrainableCheckpointTests {
    /// One add-gate output the generator loaded in transformers.
    struct Case: Sendable, CustomStringConvertible {
        var model: String
        var layout: String
        var granularity: String
        var extra: [String] = []
        /// Whether the README's recipe was run on it (the family's first layout per granularity).
        var trained: Bool

        var name: String { extra.isEmpty ? "\(model)-\(layout)-\(granularity)" : "llama-separate-layer1" }
        var description: String { name }
    }

    /// fixtures/gen/trainable.py's LAYOUTS, case by case.
    static let layouts: [(String, [String])] = [
        ("llama", ["gated-attention", "separate"]), ("mistral", ["gated-attention", "separate"]),
        ("qwen2", ["gated-attention", "separate"]), ("qwen3", ["gated-attention", "qwen3-next", "separate"]),
        ("qwen3_moe", ["qwen3-next", "separate"]), ("mixtral", ["separate"]), ("qwen2_moe", ["separate"]),
        ("phi3", ["separate"]), ("phi3-longrope", ["separate"]), ("olmo2", ["separate"]), ("olmo3", ["separate"]),
        ("granite", ["separate"]), ("smollm3", ["separate"]), ("gemma2", ["separate"]), ("gemma3", ["separate"]),
    ]

    static let cases: [Case] = layouts.flatMap { model, layouts in
        ["elementwise", "headwise"].flatMap { granularity in
            layouts.filter { !($0 == "qwen3-next" && granularity == "headwise") }.enumerated().map { index, layout in
                Case(model: model, layout: layout, granularity: granularity, trained: index == 0)
            }
        }
    } + [Case(model: "llama", layout: "separate", granularity: "elementwise", extra: ["--layers", "1"], trained: false)]

    static func summary() throws -> JSONObject {
        try #require(try Fixtures.json("reference/trainable/summary.json").objectValue)
    }

    static func record(_ name: String) throws -> JSONObject {
        try #require(try summary()["cases"]?[name]?.objectValue, "no reference for \(name)")
    }

    /// The generator recorded exactly these cases, every family in every directory layout.
    @Test func everyCaseHasAReference() throws {
        let recorded = try #require(try Self.summary()["cases"]?.objectValue).keys
        #expect(Set(recorded) == Set(Self.cases.map(\.name)))
        #expect(Self.cases.filter(\.trained).count == 30)
    }

    /// The module add-gate writes today is byte for byte the one transformers
    /// loaded, with the same auto_map; Qwen3.5 needs none.
    @Test(arguments: cases)
    func moduleIsTheOneTransformersLoaded(_ testCase: Case) throws {
        let record = try Self.record(testCase.name)
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let output = Paths.join(directory, "gated") + "/"
        try CLI.succeed(["add-gate", Fixtures.path("models/\(testCase.model)"), output, "--layout", testCase.layout,
                         "--granularity", testCase.granularity, "--quiet"] + testCase.extra)
        let module = Paths.join(output, TransformersGateModule.fileName)
        let config = try #require(try JSONValue.parse(try Paths.readFile(Paths.join(output, "config.json"))).objectValue)
        if let digest = record["module_sha256"]?.stringValue {
            #expect(SHA256.hexDigest(try Paths.readFile(module)) == digest)
            #expect(config["auto_map"] == record["auto_map"])
            #expect(config["auto_map"]?.objectValue == TransformersGateModule.autoMap)
        } else {
            #expect(testCase.layout == "qwen3-next" && !Paths.exists(module) && config["auto_map"] == nil)
        }
        // transformers computed the ungated logits at zero init, and every gate had a gradient.
        #expect(try #require(record["max_abs_diff_to_ungated"]?.doubleValue) < 1e-4)
        let norms = try #require(record["gate_gradient_norms"]?.arrayValue).compactMap(\.doubleValue)
        #expect(!norms.isEmpty && norms.allSatisfy { $0 > 0 })
        // gatesurgeon runs the gated directory as transformers did.
        let before = try #require(try Fixtures.tensors("reference/trainable/logits.safetensors")["\(testCase.name).before"])
        let result = try ForwardPass(graph: ModelGraph(checkpoint: Checkpoint(path: output))).run(tokens: Fixtures.referenceTokens)
        #expect(Fixtures.maxAbsDifference(result.logits, before.values) <= 1e-4)
    }

    /// What `save_pretrained` wrote after the README recipe's optimizer
    /// steps: gatesurgeon computes transformers' logits of it (1e-4, summation
    /// order only), training moved it off the zero-gate logits, and it
    /// converts to GGUF computing the same.
    @Test(arguments: cases.filter(\.trained))
    func trainedCheckpointsRunAndConvert(_ testCase: Case) throws {
        let trained = Fixtures.path("reference/trainable/\(testCase.name)")
        let graph = try ModelGraph(checkpoint: Checkpoint(path: trained))
        #expect(graph.config.gate?.granularity.rawValue == testCase.granularity)
        let after = try #require(try Fixtures.tensors("reference/trainable/logits.safetensors")["\(testCase.name).after"])
        let result = try ForwardPass(graph: graph).run(tokens: Fixtures.referenceTokens)
        #expect(Fixtures.maxAbsDifference(result.logits, after.values) <= 1e-4)
        let before = try #require(try Fixtures.tensors("reference/trainable/logits.safetensors")["\(testCase.name).before"])
        #expect(Fixtures.maxAbsDifference(after.values, before.values) > 0, "training moved the logits")
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let gguf = Paths.join(directory, "trained.gguf")
        var tokenizer: [String] = []
        if testCase.model == "qwen3_moe" && testCase.layout == "qwen3-next" {
            // transformers' Qwen3_5Tokenizer saved a pad token (<|endoftext|>, id 128) past the tiny
            // vocabulary of 128: the converter's check refuses that, and so does gatesurgeon; the
            // model's own tokenizer goes in instead.
            let refused = CLI.run(["convert", trained, gguf, "--quiet"])
            #expect(refused.status == 2 && refused.errorOutput.contains("is not above the largest token id 128"), "\(refused.errorOutput)")
            tokenizer = ["--tokenizer-from", Fixtures.path("gguf/qwen3_moe-f32.gguf")]
        }
        try CLI.succeed(["convert", trained, gguf, "--quiet"] + tokenizer)
        let converted = try ForwardPass(graph: ModelGraph(checkpoint: Checkpoint(path: gguf))).run(tokens: Fixtures.referenceTokens)
        #expect(Fixtures.maxAbsDifference(converted.logits, result.logits) <= 1e-5)
        try CLI.succeed(["convert", trained, Paths.join(directory, "trained.Q8_0.gguf"), "--quant", "q8_0", "--quiet"] + tokenizer)
    }

    /// The README's recipe is the code the generator ran.
    @Test func readmeRecipeIsTheOneRun() throws {
        let readme = String(decoding: try Paths.readFile(Paths.join(Fixtures.root, "README.md")), as: UTF8.self)
        let section = try #require(readme.components(separatedBy: "#### Continued training").dropFirst().first)
        let code = try #require(section.components(separatedBy: "```python\n").dropFirst().first?.components(separatedBy: "```").first)
        #expect(SHA256.hexDigest(Array(code.utf8)) == (try Self.summary()["recipe_sha256"]?.stringValue))
    }
}
