import JSON

extension ModelConfig {
    /// Reads the hyperparameters llama.cpp stores under `general.architecture`
    /// (`GGUFKey`), with what llama.cpp derives instead of reading (Gemma's
    /// attention scale) set as llama.cpp computes it. RoPE scaling that
    /// llama.cpp keeps in tensors (`rope_freqs`, `rope_factors_*`) is added
    /// by the graph reader, which has the tensors.
    public init(gguf: GGUFModel) throws {
        let path = gguf.path
        guard let arch = gguf.architecture else {
            throw ModelError.invalidConfig(path: path, key: GGUFKey.architecture, problem: "missing")
        }
        if arch == Step35.ggufName {
            // The family a step35 file carries, from its keys and tensors.
            self = try Step35.config(reading: gguf)
            return
        }
        let file = HyperparameterReader(gguf: gguf.metadata, path: path, architecture: arch)
        guard let architecture = Architecture.matching(ggufName: arch, file: file) else {
            throw ModelError.unknownArchitecture(path: path, name: arch)
        }
        let hidden = try file.int(GGUFKey.embeddingLength)
        let heads = try file.int(GGUFKey.headCount)
        let headDim = try file.optionalInt(GGUFKey.keyLength) ?? hidden / heads
        let embedding = gguf.tensors.first { $0.name == "token_embd.weight" }
        let vocabulary = try file.optionalInt(GGUFKey.vocabSize)
            ?? embedding?.shape.first
            ?? gguf.value("tokenizer.ggml.tokens")?.arrayValues?.count ?? 0
        var partialRotary: Double?
        if let dimensions = try file.optionalInt(GGUFKey.ropeDimensionCount), headDim > 0 {
            // Checked here, in the file's own terms, before it becomes a factor.
            guard dimensions <= headDim, dimensions % 2 == 0 else {
                throw file.failure(GGUFKey.ropeDimensionCount, "\(dimensions) is not an even count of at most the head size \(headDim)")
            }
            partialRotary = Double(dimensions) / Double(headDim)
        }
        let context = try file.optionalInt(GGUFKey.contextLength) ?? 4096
        var rope = RoPE(theta: try file.optionalDouble(GGUFKey.ropeFreqBase) ?? 10000)
        switch try file.optionalString(GGUFKey.ropeScalingType) {
        case "linear":
            rope.scaling = .linear(factor: try file.optionalDouble(GGUFKey.ropeScalingFactor) ?? 1)
        case "yarn":
            var yarn = RoPE.YaRN(factor: try file.double(GGUFKey.ropeScalingFactor),
                                 originalContext: try file.optionalInt(GGUFKey.ropeScalingOriginalContext) ?? context)
            yarn.betaFast = try file.optionalDouble(GGUFKey.ropeScalingYarnBetaFast) ?? 32
            yarn.betaSlow = try file.optionalDouble(GGUFKey.ropeScalingYarnBetaSlow) ?? 1
            yarn.attentionFactor = try file.optionalDouble(GGUFKey.ropeScalingYarnAttentionFactor)
            rope.scaling = .yarn(yarn)
        case nil, "none", "longrope":
            // LongRoPE's factors are tensors: the graph reader adds them.
            break
        case let other?:
            throw file.failure(GGUFKey.ropeScalingType, "'\(other)' is not supported (linear, yarn, longrope are)")
        }
        var experts: ExpertConfig?
        if let layout = architecture.expertLayout {
            let count = try file.int(GGUFKey.expertCount)
            experts = ExpertConfig(
                count: count, perToken: try file.int(GGUFKey.expertUsedCount),
                intermediateSize: try file.optionalInt(GGUFKey.expertFeedForwardLength) ?? file.int(GGUFKey.feedForwardLength),
                normalizesTopK: layout.llamaCppNormalizesTopK,
                sharedIntermediateSize: layout.hasSharedExpert ? try file.int(GGUFKey.expertSharedFeedForwardLength) : nil)
        }
        let layers = try file.int(GGUFKey.blockCount)
        self.init(
            family: architecture.family, hiddenSize: hidden,
            intermediateSize: try file.optionalInt(GGUFKey.feedForwardLength) ?? experts?.intermediateSize ?? file.int(GGUFKey.feedForwardLength),
            layerCount: layers, headCount: heads, kvHeadCount: try file.optionalInt(GGUFKey.headCountKV) ?? heads,
            headDim: headDim, vocabSize: vocabulary, maxPositionEmbeddings: context,
            rmsNormEps: try file.optionalDouble(GGUFKey.rmsEpsilon) ?? 1e-6, rope: rope,
            partialRotaryFactor: partialRotary ?? 1,
            tieWordEmbeddings: !gguf.tensors.contains { $0.name == "output.weight" })
        attentionBias = gguf.tensors.contains { $0.name == architecture.ggufName(.queryBias, layer: 0) }
            || gguf.tensors.contains { $0.name == architecture.ggufName(.queryKeyValue, layer: 0).replacingFirst(".weight", with: ".bias") }
        outputBias = gguf.tensors.contains { $0.name == architecture.ggufName(.outputBias, layer: 0) }
        hasQueryKeyNorm = gguf.tensors.contains { $0.name == architecture.ggufName(.queryNorm, layer: 0) }
        if let granularity = try file.optionalStringAnywhere(GGUFKey.outputGate).flatMap(GateGranularity.init(rawValue:)) {
            gate = GateSpec(layout: .separate, granularity: granularity)
        }
        self.experts = experts
        try readGGUFScalars(file)
        try readGGUFLayerPattern(file)
        if let original = try file.optionalInt(GGUFKey.ropeScalingOriginalContext) {
            json["original_max_position_embeddings"] = .int(Int64(original))
        }
        if experts != nil, let dense = try file.optionalInt(GGUFKey.feedForwardLength) {
            // Recorded by config.json too, though every layer is experts.
            json["intermediate_size"] = .int(Int64(dense))
        }
        // The tokens transformers pads and stops with. A GGUF without one has none: written as null,
        // since the config classes' defaults (Phi-3's pad 32000, SmolLM3's 128004) may lie outside
        // this vocabulary, and an embedding's padding index outside it does not load.
        for (key, ggufKey) in [("bos_token_id", "tokenizer.ggml.bos_token_id"), ("eos_token_id", "tokenizer.ggml.eos_token_id"),
                               ("pad_token_id", "tokenizer.ggml.padding_token_id")] {
            let id = gguf.value(ggufKey)?.intValue.flatMap { (0..<vocabulary).contains($0) ? $0 : nil }
            json[key] = id.map { .int(Int64($0)) } ?? .null
        }
        try validate(path: path)
        json = transformersConfig()
    }

    /// The family's scalars from llama.cpp's keys; what llama.cpp derives
    /// rather than reads is set to what it derives.
    private mutating func readGGUFScalars(_ file: HyperparameterReader) throws(ModelError) {
        let rules = architecture.scalars
        // llama.cpp reads 0 as "not set".
        func float(_ key: String) throws(ModelError) -> Float? { try file.optionalDouble(key).flatMap { $0 == 0 ? nil : Float($0) } }
        if case .configKey = rules.embeddingScale { embeddingMultiplier = try float(GGUFKey.embeddingScale) }
        if rules.residualMultiplierKey != nil { residualMultiplier = try float(GGUFKey.residualScale) }
        switch rules.attentionScale {
        case .inverseSquareRootOfHeadDim: break
        // llama.cpp scales Gemma's queries by 1 / sqrt(head_dim), or by 1 / sqrt(hidden / heads) at the
        // 27B models' layer count (hparams.f_attention_scale); it reads no query_pre_attn_scalar.
        case .inverseSquareRootOf:
            queryPreAttentionScalar = Double(layerCount == rules.ggufHiddenPerHeadScaleLayers ? hiddenSize / headCount : headDim)
        case .configKey: attentionMultiplier = try float(GGUFKey.attentionScale)
        }
        if rules.attentionSoftcapKey != nil {
            attentionSoftcap = file.has(GGUFKey.attentionLogitSoftcapping) ? try float(GGUFKey.attentionLogitSoftcapping) : rules.ggufSoftcapDefaults.attention
        }
        if rules.finalLogitSoftcapKey != nil {
            finalLogitSoftcap = file.has(GGUFKey.finalLogitSoftcapping) ? try float(GGUFKey.finalLogitSoftcapping) : rules.ggufSoftcapDefaults.final
        }
        if rules.logitDivisorKey != nil { logitDivisor = try float(GGUFKey.logitScale) }
    }

    /// Sliding-window layers as llama.cpp finds them: the window key, and
    /// the family's pattern (llama.cpp derives it from the architecture).
    private mutating func readGGUFLayerPattern(_ file: HyperparameterReader) throws(ModelError) {
        if case .everyNth(_, let interval) = architecture.noRope {
            // llama.cpp derives the layers without RoPE from the architecture (SmolLM3: every fourth).
            ropeLayers = (0..<layerCount).map { ($0 + 1) % interval != 0 }
        }
        // Phi-3's converter writes 0 for "no window".
        guard let window = try file.optionalInt(GGUFKey.slidingWindow, in: 0...Limits.context), window > 0 else { return }
        switch architecture.layerPattern {
        case .fullAttention, .fromMaxWindowLayers, .asListed:
            return
        case .everyLayer:
            slidingLayers = Array(repeating: true, count: layerCount)
        case .slidingExceptEvery(let period, _):
            if let pattern = try file.optionalBools(GGUFKey.slidingWindowPattern, maxCount: Limits.layers) {
                guard pattern.count == layerCount else {
                    throw file.failure(GGUFKey.slidingWindowPattern, "lists \(pattern.count) layers, block_count is \(layerCount)")
                }
                slidingLayers = pattern
            } else {
                slidingLayers = (0..<layerCount).map { ($0 + 1) % period != 0 }
            }
        }
        slidingWindow = window
        // llama.cpp ropes sliding layers with their own base (the family's default when the file has
        // none) and no scaling.
        if let local = try file.optionalDouble(GGUFKey.ropeFreqBaseSWA) ?? architecture.defaultSlidingRopeTheta {
            let sliding = RoPE(theta: local)
            if sliding != rope { slidingRope = sliding }
        }
    }
}

extension HyperparameterReader {
    /// A string under a whole key (not prefixed by the architecture), or nil.
    func optionalStringAnywhere(_ key: String) throws(ModelError) -> String? {
        guard case .gguf(let metadata) = storage, let value = metadata[key] else { return nil }
        guard let text = value.stringValue else {
            throw ModelError.invalidConfig(path: path, key: key, problem: "expected a string, found \(value.type.name)")
        }
        return text
    }
}
