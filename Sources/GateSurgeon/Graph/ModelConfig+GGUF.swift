import JSON

extension ModelConfig {
    /// Metadata keys gatesurgeon adds to a GGUF file it gated.
    public static let ggufGateGranularityKey = "gatesurgeon.attention.output_gate"

    /// Reads the hyperparameters llama.cpp stores under `general.architecture`,
    /// with the family's own keys read by its `Architecture`.
    public init(gguf: GGUFModel) throws {
        let path = gguf.path
        guard let arch = gguf.architecture else {
            throw ModelError.invalidConfig(path: path, key: "general.architecture", problem: "missing")
        }
        func value(_ key: String) -> GGUFValue? { gguf.value("\(arch).\(key)") }
        guard let architecture = Architecture.matching(ggufName: arch, hasExperts: value("expert_count") != nil) else {
            throw ModelError.unknownArchitecture(path: path, name: arch)
        }
        func int(_ key: String) throws(ModelError) -> Int {
            guard let number = value(key)?.intValue else {
                throw ModelError.invalidConfig(path: path, key: "\(arch).\(key)", problem: "missing or not an integer")
            }
            return try Self.bounded(Int64(number), key: "\(arch).\(key)", path: path)
        }
        func optionalInt(_ key: String) throws(ModelError) -> Int? {
            guard value(key) != nil else { return nil }
            return try int(key)
        }
        func double(_ key: String) throws(ModelError) -> Double? {
            guard let stored = value(key) else { return nil }
            guard let number = stored.doubleValue, number.isFinite else {
                throw ModelError.invalidConfig(path: path, key: "\(arch).\(key)", problem: "not a finite number")
            }
            return number
        }
        let hidden = try int("embedding_length")
        let heads = try int("attention.head_count")
        let headDim = try optionalInt("attention.key_length") ?? hidden / heads
        let embedding = gguf.tensors.first { $0.name == "token_embd.weight" }
        let vocabulary = try optionalInt("vocab_size")
            ?? embedding?.shape.first
            ?? gguf.value("tokenizer.ggml.tokens")?.arrayValues?.count ?? 0
        var partialRotary: Double?
        if let dimensions = try optionalInt("rope.dimension_count"), headDim > 0 {
            // Checked here, in the file's own terms, before it becomes a factor.
            guard dimensions <= headDim, dimensions % 2 == 0 else {
                throw ModelError.invalidConfig(path: path, key: "\(arch).rope.dimension_count",
                                               problem: "\(dimensions) is not an even count of at most the head size \(headDim)")
            }
            partialRotary = Double(dimensions) / Double(headDim)
        }
        var scaling: RopeScaling?
        if value("rope.scaling.type")?.stringValue == "linear" {
            scaling = .linear(factor: try double("rope.scaling.factor") ?? 1)
        }
        var experts: ExpertConfig?
        if let layout = architecture.expertLayout {
            let count = try int("expert_count")
            experts = ExpertConfig(
                count: count, perToken: try int("expert_used_count"),
                intermediateSize: try optionalInt("expert_feed_forward_length") ?? int("feed_forward_length"),
                normalizesTopK: layout.llamaCppNormalizesTopK,
                sharedIntermediateSize: layout.hasSharedExpert ? try int("expert_shared_feed_forward_length") : nil)
        }
        self.init(
            family: architecture.family, hiddenSize: hidden,
            intermediateSize: try optionalInt("feed_forward_length") ?? experts?.intermediateSize ?? int("feed_forward_length"),
            layerCount: try int("block_count"), headCount: heads, kvHeadCount: try optionalInt("attention.head_count_kv") ?? heads,
            headDim: headDim, vocabSize: vocabulary, maxPositionEmbeddings: try optionalInt("context_length") ?? 4096,
            rmsNormEps: try double("attention.layer_norm_rms_epsilon") ?? 1e-6, ropeTheta: try double("rope.freq_base") ?? 10000,
            ropeScaling: scaling, partialRotaryFactor: partialRotary ?? 1,
            tieWordEmbeddings: !gguf.tensors.contains { $0.name == "output.weight" })
        attentionBias = gguf.tensors.contains { $0.name == "blk.0.attn_q.bias" }
        outputBias = gguf.tensors.contains { $0.name == "blk.0.attn_output.bias" }
        hasQueryKeyNorm = gguf.tensors.contains { $0.name == "blk.0.attn_q_norm.weight" }
        if let granularity = gguf.value(ModelConfig.ggufGateGranularityKey)?.stringValue.flatMap(GateGranularity.init(rawValue:)) {
            gate = GateSpec(layout: .separate, granularity: granularity)
        }
        self.experts = experts
        if experts != nil, let dense = try optionalInt("feed_forward_length") {
            // Recorded by config.json too, though every layer is experts.
            json["intermediate_size"] = .int(Int64(dense))
        }
        try validate(path: path)
        json = transformersConfig()
    }
}
