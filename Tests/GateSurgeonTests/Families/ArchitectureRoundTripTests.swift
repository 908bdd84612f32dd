import GateSurgeon
import JSON
import Testing

/// Every family's names, config and GGUF metadata, both ways: a small
/// random model of each family, built from the family's own description,
/// is written to config.json and to GGUF and read back.
@Suite("Every family round-trips names, configs and metadata")
struct ArchitectureRoundTripTests {
    /// The family names, from the registry itself.
    static let families = Architecture.all.map(\.family.rawValue)

    @Test func everyFamilyIsListed() {
        // Sixteen families: nine Llama and Qwen ones, seven more.
        #expect(Set(Self.families).count == Self.families.count)
        #expect(Self.families.count >= 14)
    }

    /// A small config of `family`, with the family's own features switched on.
    static func config(_ family: ModelFamily) throws -> ModelConfig {
        // Head size 8 (hidden / heads, which Phi-3 and Granite assume): Qwen3.5 rotates a quarter of it, RoPE rotates pairs.
        var config = ModelConfig(family: family, hiddenSize: 32, intermediateSize: 24, layerCount: 4, headCount: 4, kvHeadCount: 2,
                                 headDim: 8, vocabSize: 32, maxPositionEmbeddings: 64)
        let architecture = family.architecture
        if let layout = architecture.expertLayout {
            config.experts = .init(count: 4, perToken: 2, intermediateSize: 8, normalizesTopK: layout.llamaCppNormalizesTopK,
                                   sharedIntermediateSize: layout.hasSharedExpert ? 12 : nil)
            // Experts in every layer: the only intermediate size is the experts'.
            config.intermediateSize = 8
        }
        if case .slidingExceptEvery(let period, _) = architecture.layerPattern {
            config.slidingLayers = (0..<4).map { ($0 + 1) % period != 0 }
            config.slidingWindow = 3
        }
        if case .everyNth(_, let interval) = architecture.noRope {
            config.ropeLayers = (0..<4).map { ($0 + 1) % interval != 0 }
        }
        if case .configKey = architecture.scalars.embeddingScale { config.embeddingMultiplier = 2 }
        if architecture.scalars.residualMultiplierKey != nil { config.residualMultiplier = 0.5 }
        if case .configKey = architecture.scalars.attentionScale { config.attentionMultiplier = 0.25 }
        if architecture.scalars.logitDivisorKey != nil { config.logitDivisor = 4 }
        if architecture.scalars.attentionSoftcapKey != nil { config.attentionSoftcap = 50 }
        if architecture.scalars.finalLogitSoftcapKey != nil { config.finalLogitSoftcap = 30 }
        try config.validate(path: "(test)")
        return config
    }

    /// Every tensor the config asks for, with seeded values.
    static func graph(_ config: ModelConfig) throws -> ModelGraph {
        var tensors: [GraphTensor] = []
        var stream: UInt64 = 0
        func add(_ name: String, _ shape: [Int]) {
            stream += 1
            let rows = shape.count > 1 ? shape.dropLast().reduce(1, *) : 1
            tensors.append(GraphTensor(name: name, shape: shape, dtype: .f32,
                                       expression: .normal(rowCount: rows, rowElements: shape.last ?? 1, std: 0.5, seed: 7, stream: stream)))
        }
        let (D, V) = (config.hiddenSize, config.vocabSize)
        add("model.embed_tokens.weight", [V, D])
        add("model.norm.weight", [D])
        add("lm_head.weight", [V, D])
        let architecture = config.architecture
        for layer in 0..<config.layerCount {
            for slot in config.layerSlots(layer) where slot.required {
                add(architecture.transformersName(slot.role, layer: layer), slot.shape)
            }
            if let layout = architecture.expertLayout, let experts = config.experts {
                add("model.layers.\(layer).\(layout.router)", [experts.count, D])
                for expert in 0..<experts.count {
                    for part in Architecture.ExpertPart.allCases {
                        let shape = part == .down ? [D, experts.intermediateSize] : [experts.intermediateSize, D]
                        add(try #require(architecture.expertTensorName(layer: layer, expert: expert, part: part)), shape)
                    }
                }
                if let shared = experts.sharedIntermediateSize {
                    let p = "model.layers.\(layer).mlp.shared_expert"
                    add(p + ".gate_proj.weight", [shared, D])
                    add(p + ".up_proj.weight", [shared, D])
                    add(p + ".down_proj.weight", [D, shared])
                    add(p + "_gate.weight", [1, D])
                }
            }
        }
        return try ModelGraph(config: config, tensors: tensors)
    }

    /// transformers and GGUF names map to each other for every tensor.
    @Test(arguments: families)
    func namesRoundTrip(family: String) throws {
        let config = try Self.config(ModelFamily(rawValue: family))
        let graph = try Self.graph(config)
        let architecture = config.architecture
        for tensor in graph.allTensors where architecture.expertComponents(of: tensor.name) == nil {
            let gguf = try #require(architecture.ggufName(forTransformers: tensor.name), "\(tensor.name)")
            let headwise = gguf.hasSuffix("attn_gate.weight") && tensor.rows == config.headCount
            #expect(architecture.transformersName(forGGUF: gguf, headwiseGate: headwise) == tensor.name, "\(tensor.name) -> \(gguf)")
        }
        #expect(graph.passthrough.isEmpty, "every tensor has a place in the layer")
    }

    /// The config written for transformers reads back as the same hyperparameters.
    @Test(arguments: families)
    func configRoundTrips(family: String) throws {
        let config = try Self.config(ModelFamily(rawValue: family))
        let back = try ModelConfig(transformersConfig: config.transformersConfig(), path: "config.json")
        Self.expectSameHyperparameters(back, config)
        #expect(back.family == config.family)
    }

    /// Written to GGUF and read back: the GGUF family, the same
    /// hyperparameters, and every tensor's values through the converter's
    /// transforms and back.
    @Test(arguments: families)
    func ggufRoundTrips(family: String) throws {
        let config = try Self.config(ModelFamily(rawValue: family))
        let graph = try Self.graph(config)
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let path = Paths.join(directory, "model.gguf")
        try ModelWriter.write(graph, to: path)
        let back = try ModelGraph(checkpoint: Checkpoint(path: path))
        #expect(back.config.architecture.ggufName == config.architecture.ggufName)
        Self.expectSameHyperparameters(back.config, config)
        for tensor in graph.allTensors {
            let other = try #require(back.allTensors.first { $0.name == tensor.name }, "\(tensor.name)")
            // Zero-centred norms are stored as w + 1 in F32 and come back within half an ulp of w + 1.
            let isNorm = tensor.name == "model.norm.weight" || config.architecture.layerRole(of: tensor.name)?.role.isNorm == true
            let shifted = config.zeroCenteredNorms && isNorm
            let values = try tensor.values(), backValues = try other.values()
            #expect(values.count == backValues.count, "\(tensor.name)")
            let wrong = zip(values, backValues).filter { abs($0 - $1) > (shifted ? ($0 + 1).ulp / 2 : 0) }
            #expect(wrong.isEmpty, "\(tensor.name)")
        }
        #expect(back.allTensors.count == graph.allTensors.count)
    }

    static func expectSameHyperparameters(_ a: ModelConfig, _ b: ModelConfig, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.hiddenSize == b.hiddenSize && a.intermediateSize == b.intermediateSize && a.layerCount == b.layerCount, sourceLocation: sourceLocation)
        #expect(a.headCount == b.headCount && a.kvHeadCount == b.kvHeadCount && a.headDim == b.headDim && a.vocabSize == b.vocabSize,
                sourceLocation: sourceLocation)
        #expect(a.rope == b.rope && a.rotaryDimensions == b.rotaryDimensions && Float(a.rmsNormEps) == Float(b.rmsNormEps), sourceLocation: sourceLocation)
        #expect(a.slidingLayers == b.slidingLayers && a.slidingWindow == b.slidingWindow && a.ropeLayers == b.ropeLayers, sourceLocation: sourceLocation)
        #expect(a.embeddingScale == b.embeddingScale && a.residualMultiplier == b.residualMultiplier && a.logitDivisor == b.logitDivisor,
                sourceLocation: sourceLocation)
        #expect(a.attentionScale == b.attentionScale && a.attentionSoftcap == b.attentionSoftcap && a.finalLogitSoftcap == b.finalLogitSoftcap,
                sourceLocation: sourceLocation)
        #expect(a.attentionBias == b.attentionBias && a.hasQueryKeyNorm == b.hasQueryKeyNorm && a.zeroCenteredNorms == b.zeroCenteredNorms,
                sourceLocation: sourceLocation)
        #expect(a.experts == b.experts && a.activation == b.activation && a.gate?.layout == b.gate?.layout, sourceLocation: sourceLocation)
    }

    /// A config key that is JSON null counts as absent, as in the converter's
    /// `hparams.get`: a Mixtral saved with `"head_dim": null` gets no
    /// `attention.key_length` (and still every other key the converter writes).
    @Test func nullHeadDimWritesNoKeyLength() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let model = Paths.join(directory, "mixtral")
        try Fixtures.copyDirectory(from: Fixtures.path("models/mixtral"), to: model)
        guard case .object(var config) = try Fixtures.json("models/mixtral/config.json") else {
            Issue.record("config.json is not an object")
            return
        }
        config["head_dim"] = .null
        try Paths.writeText(JSONValue.object(config).serialized(.indented), to: Paths.join(model, "config.json"))
        let output = Paths.join(directory, "mixtral.gguf")
        try CLI.succeed(["convert", model, output, "--dtype", "f32"])
        let written = try GGUFFile(path: output)
        let reference = try GGUFFile(path: Fixtures.path("gguf/mixtral-f32.gguf"))
        #expect(written.value("llama.attention.key_length") == nil && written.value("llama.attention.value_length") == nil)
        let lengths: Set = ["llama.attention.key_length", "llama.attention.value_length"]
        let expected = reference.metadata.keys.filter { $0.hasPrefix("llama.") && !lengths.contains($0) }
        #expect(written.metadata.keys.filter { $0.hasPrefix("llama.") } == expected)
    }
}
