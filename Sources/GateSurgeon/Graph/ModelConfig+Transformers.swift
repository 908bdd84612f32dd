import JSON

/// A transformers config.json: reading it (`init(transformersConfig:path:)`)
/// and writing one for these hyperparameters (`transformersConfig()`).
extension ModelConfig {
    /// Reads a transformers config.json (a wrapper's `text_config` is
    /// used), with the family's rules from its `Architecture`.
    public init(transformersConfig root: JSONObject, path: String) throws {
        let config = HyperparameterReader(json: root, path: path)
        let modelType = try config.optionalString("model_type") ?? ""
        let classes = (root["architectures"]?.arrayValue ?? []).compactMap(\.stringValue)
        let rootType = root["model_type"]?.stringValue ?? modelType
        if let reason = Architecture.refusals.first(where: { $0.modelType == modelType || $0.modelType == rootType })?.reason {
            throw ModelError.unsupportedModel(path: path, problem: reason)
        }
        guard let architecture = Architecture.matching(modelType: modelType, classes: classes) else {
            throw ModelError.unknownArchitecture(path: path, name: modelType.isEmpty ? (classes.first ?? "(no model_type)") : modelType)
        }
        let object = config.object ?? [:]
        let heads = try config.int("num_attention_heads")
        let hidden = try config.int("hidden_size")
        var experts: ExpertConfig?
        if let layout = architecture.expertLayout {
            guard let count = try config.optionalInt("num_local_experts") ?? config.optionalInt("num_experts") else {
                throw ModelError.invalidConfig(path: path, key: config.spelled("num_experts"), problem: "missing for a mixture-of-experts model")
            }
            experts = ExpertConfig(
                count: count, perToken: try config.int("num_experts_per_tok"), intermediateSize: try config.int(layout.expertSizeKey),
                normalizesTopK: layout.normalizesTopK.resolve(object),
                sharedIntermediateSize: layout.hasSharedExpert ? try config.int("shared_expert_intermediate_size") : nil)
            if let step = try config.optionalInt("decoder_sparse_step"), step != 1 {
                throw ModelError.unsupportedModel(path: path, problem: "decoder_sparse_step \(step) mixes dense and expert layers; only models with experts in every layer are supported")
            }
            if let dense = object["mlp_only_layers"]?.arrayValue, !dense.isEmpty {
                throw ModelError.unsupportedModel(path: path, problem: "mlp_only_layers lists dense layers; only models with experts in every layer are supported")
            }
        }
        let headDim: Int
        if let explicit = try config.optionalInt("head_dim") {
            headDim = explicit
        } else {
            guard hidden % heads == 0 else {
                throw ModelError.invalidConfig(path: path, key: config.spelled("head_dim"), problem: "missing, and hidden_size is not a multiple of num_attention_heads")
            }
            headDim = hidden / heads
        }
        let maxPositions = try config.optionalInt("max_position_embeddings") ?? 4096
        let layers = try config.int("num_hidden_layers")
        self.init(
            family: architecture.family, hiddenSize: hidden,
            intermediateSize: try config.optionalInt("intermediate_size") ?? experts?.intermediateSize ?? config.int("intermediate_size"),
            layerCount: layers, headCount: heads, kvHeadCount: try config.optionalInt("num_key_value_heads") ?? heads,
            headDim: headDim, vocabSize: try config.int("vocab_size"), maxPositionEmbeddings: maxPositions,
            rmsNormEps: try config.optionalDouble("rms_norm_eps") ?? 1e-6,
            rope: try RoPE.parse(config, defaultTheta: architecture.defaultRopeTheta, maxPositionEmbeddings: maxPositions),
            partialRotaryFactor: try RoPE.partialRotaryFactor(config),
            tieWordEmbeddings: try config.optionalBool("tie_word_embeddings") ?? root["tie_word_embeddings"]?.boolValue ?? false,
            initializerRange: try config.optionalDouble("initializer_range") ?? 0.02)
        attentionBias = architecture.queryKeyValueBias.resolve(object)
        outputBias = architecture.outputBias.resolve(object)
        hasQueryKeyNorm = architecture.queryKeyNorm.resolve(object)
        self.experts = experts
        json = root

        if let key = config.firstPresent(architecture.activation.keys) {
            let name = try config.optionalString(key) ?? ""
            guard let activation = Activation(configName: name) else {
                throw ModelError.invalidConfig(path: path, key: config.spelled(key), problem: "activation '\(name)' is not supported (silu and gelu_pytorch_tanh are)")
            }
            self.activation = activation
        }
        try readScalars(config)
        try readLayerPattern(config)

        if try config.optionalBool("elementwise_attn_output_gate") == true {
            gate = GateSpec(layout: .gatedAttention, granularity: .elementwise)
        } else if try config.optionalBool("headwise_attn_output_gate") == true {
            gate = GateSpec(layout: .gatedAttention, granularity: .headwise)
        } else if let declared = try config.optionalBool("attn_output_gate") {
            gate = declared ? GateSpec(layout: .qwen3Next, granularity: .elementwise) : nil
        }
        try validate(path: path)
    }

    /// The family's scalars (`Architecture.ScalarRules`) from the config.
    private mutating func readScalars(_ config: HyperparameterReader) throws(ModelError) {
        let rules = architecture.scalars
        func float(_ key: String?) throws(ModelError) -> Float? {
            guard let key, let value = try config.optionalDouble(key) else { return nil }
            return Float(value)
        }
        if case .configKey(let key) = rules.embeddingScale { embeddingMultiplier = try float(key) }
        residualMultiplier = try float(rules.residualMultiplierKey)
        switch rules.attentionScale {
        case .inverseSquareRootOfHeadDim: break
        case .inverseSquareRootOf(let key): queryPreAttentionScalar = try config.optionalDouble(key)
        case .configKey(let key): attentionMultiplier = try float(key)
        }
        attentionSoftcap = try float(rules.attentionSoftcapKey)
        finalLogitSoftcap = try float(rules.finalLogitSoftcapKey)
        logitDivisor = try float(rules.logitDivisorKey)
    }

    /// Which layers slide and which skip RoPE: the config's `layer_types`
    /// and `no_rope_layers` when it lists them, else the family's rule.
    private mutating func readLayerPattern(_ config: HyperparameterReader) throws(ModelError) {
        // Configs without sliding layers may carry any window (Qwen2-MoE saves 0); it counts only where layers slide.
        slidingWindow = try config.optionalInt("sliding_window", in: 0...Limits.context).flatMap { $0 > 0 ? $0 : nil }
        if try config.optionalBool("use_bidirectional_attention") == true {
            throw ModelError.unsupportedModel(path: config.path, problem: "use_bidirectional_attention makes attention non-causal; only causal decoders are supported")
        }
        let rule = architecture.layerPattern
        if let types = try config.optionalStrings("layer_types", maxCount: Limits.layers) {
            guard types.count == layerCount else {
                throw config.failure("layer_types", "lists \(types.count) layers, num_hidden_layers is \(layerCount)")
            }
            for (index, type) in types.enumerated() where type != "full_attention" && type != "sliding_attention" {
                throw config.failure("layer_types", "layer \(index) is '\(type)'; only full_attention and sliding_attention layers are supported")
            }
            slidingLayers = types.map { $0 == "sliding_attention" }
            if slidingLayers.contains(true), case .fullAttention = rule {
                throw config.failure("layer_types", "lists sliding-window layers, which \(architecture.transformersClass) does not have")
            }
        } else {
            switch rule {
            case .fullAttention:
                slidingLayers = Array(repeating: false, count: layerCount)
            case .everyLayer:
                slidingLayers = Array(repeating: slidingWindow != nil, count: layerCount)
            case .fromMaxWindowLayers:
                let windowed = try config.optionalBool("use_sliding_window") == true && slidingWindow != nil
                let first = try config.optionalInt("max_window_layers", in: 0...Limits.layers) ?? layerCount
                slidingLayers = (0..<layerCount).map { windowed && $0 >= first }
            case .slidingExceptEvery(let period, let key):
                let every = try key.flatMap { key throws(ModelError) in try config.optionalInt(key) } ?? period
                slidingLayers = (0..<layerCount).map { ($0 + 1) % every != 0 }
            case .asListed:
                slidingLayers = Array(repeating: false, count: layerCount)
            }
        }
        if let listed = try config.optionalInts("no_rope_layers", in: 0...1, maxCount: Limits.layers) {
            guard case .everyNth = architecture.noRope else {
                throw config.failure("no_rope_layers", "lists layers without RoPE, which \(architecture.transformersClass) does not have")
            }
            guard listed.count == layerCount else {
                throw config.failure("no_rope_layers", "lists \(listed.count) layers, num_hidden_layers is \(layerCount)")
            }
            ropeLayers = listed.map { $0 == 1 }
        } else if case .everyNth(let key, let interval) = architecture.noRope {
            let every = try config.optionalInt(key) ?? interval
            ropeLayers = (0..<layerCount).map { ($0 + 1) % every != 0 }
        }
        if !slidingLayers.contains(true) { slidingWindow = nil }
        let nestedSliding = try config.nested("rope_parameters")?.nested("sliding_attention") != nil
        if slidingLayers.contains(true), nestedSliding || config.has("rope_local_base_freq") || architecture.defaultSlidingRopeTheta != nil {
            let local = try RoPE.parse(config, layerType: "sliding_attention", legacyThetaKey: "rope_local_base_freq",
                                       legacyScalesThisType: false, defaultTheta: architecture.defaultSlidingRopeTheta ?? architecture.defaultRopeTheta,
                                       maxPositionEmbeddings: maxPositionEmbeddings)
            if local != rope { slidingRope = local }
        }
    }

    /// The config as read when there is one, with the keys gatesurgeon
    /// knows set from the current values (in the RoPE dialect it was read in).
    public func transformersConfig() -> JSONObject {
        var object = json
        object["architectures"] = .array([.string(architecture.transformersClass)])
        object["model_type"] = .string(architecture.modelTypes[0])
        object["hidden_size"] = .int(Int64(hiddenSize))
        object["intermediate_size"] = .int(Int64(intermediateSize))
        object["num_hidden_layers"] = .int(Int64(layerCount))
        object["num_attention_heads"] = .int(Int64(headCount))
        object["num_key_value_heads"] = .int(Int64(kvHeadCount))
        object["head_dim"] = .int(Int64(headDim))
        object["vocab_size"] = .int(Int64(vocabSize))
        object["max_position_embeddings"] = .int(Int64(maxPositionEmbeddings))
        object["rms_norm_eps"] = .double(rmsNormEps)
        object["tie_word_embeddings"] = .bool(tieWordEmbeddings)
        let partialRotary = partialRotaryFactor != 1 || architecture.defaultPartialRotaryFactor != 1
        let perLayerType = slidingRope != nil || (architecture.ropePerLayerType && slidingLayers.contains(true))
        if var parameters = object["rope_parameters"]?.objectValue ?? (partialRotary && rope.scaling == nil || perLayerType ? JSONObject() : nil) {
            // transformers 5: every RoPE setting in `rope_parameters`, per layer type where the family keeps them so.
            if perLayerType {
                let slidingRope = slidingRope ?? RoPE(theta: rope.theta)
                parameters = [
                    "full_attention": .object(rope.parameters(partialRotaryFactor: partialRotary ? partialRotaryFactor : nil)),
                    "sliding_attention": .object(slidingRope.parameters(partialRotaryFactor: partialRotary ? partialRotaryFactor : nil)),
                ]
            } else {
                for (key, value) in rope.parameters(partialRotaryFactor: partialRotary ? partialRotaryFactor : nil) { parameters[key] = value }
            }
            object["rope_parameters"] = .object(JSONObject(parameters.keys.sorted().map { ($0, parameters[$0]!) }))
        } else {
            object["rope_theta"] = .double(rope.theta)
            if object["rope_scaling"] == nil || object["rope_scaling"]?.isNull == true, rope.scaling != nil {
                object["rope_scaling"] = rope.legacyScaling()
            }
        }
        if architecture.gatedByDefault {
            // Qwen3.5: the gate is the family's own; every layer is full attention here.
            object["attn_output_gate"] = .bool(gate != nil)
            object["layer_types"] = .array(Array(repeating: .string("full_attention"), count: layerCount))
        } else if slidingLayers.contains(true), case .slidingExceptEvery = architecture.layerPattern {
            object["layer_types"] = .array(slidingLayers.map { .string($0 ? "sliding_attention" : "full_attention") })
        }
        if let slidingWindow { object["sliding_window"] = .int(Int64(slidingWindow)) }
        if !ropeLayers.allSatisfy({ $0 }) || object["no_rope_layers"] != nil {
            object["no_rope_layers"] = .array(ropeLayers.map { .int($0 ? 1 : 0) })
        }
        let rules = architecture.scalars
        // transformers 5 configs check field types: a value the config already holds keeps its JSON
        // type (16, not 16.0, for Gemma's integer query_pre_attn_scalar).
        func set(_ key: String?, _ value: Double?, integral: Bool = false) {
            guard let key else { return }
            if let value, let present = object[key]?.doubleValue, Float(present) == Float(value) { return }
            if let value, integral, value.rounded() == value, abs(value) < 1e15 {
                object[key] = .int(Int64(value))
            } else {
                object[key] = value.map { .double($0) } ?? .null
            }
        }
        if case .configKey(let key) = rules.embeddingScale { set(key, embeddingMultiplier.map(Double.init)) }
        set(rules.residualMultiplierKey, residualMultiplier.map(Double.init))
        switch rules.attentionScale {
        case .inverseSquareRootOfHeadDim: break
        case .inverseSquareRootOf(let key): set(key, queryPreAttentionScalar, integral: true)
        case .configKey(let key): set(key, attentionMultiplier.map(Double.init))
        }
        set(rules.attentionSoftcapKey, attentionSoftcap.map(Double.init))
        set(rules.finalLogitSoftcapKey, finalLogitSoftcap.map(Double.init))
        set(rules.logitDivisorKey, logitDivisor.map(Double.init))
        if architecture.activation.fallback != activation, let key = architecture.activation.keys.first {
            object[key] = .string(activation == .silu ? "silu" : activation.rawValue)
        }
        if case .configKey(let keys, _) = architecture.queryKeyValueBias, keys.contains("attention_bias") {
            object["attention_bias"] = .bool(attentionBias)
        }
        if let experts, let layout = architecture.expertLayout {
            if layout.expertSizeKey != "intermediate_size" && json["intermediate_size"] == nil {
                // Every layer is experts: no dense size to record.
                object["intermediate_size"] = nil
            }
            object[layout.expertCountKey] = .int(Int64(experts.count))
            object["num_experts_per_tok"] = .int(Int64(experts.perToken))
            object[layout.expertSizeKey] = .int(Int64(experts.intermediateSize))
            if case .configKey(let keys, _) = layout.normalizesTopK, let key = keys.first {
                object[key] = .bool(experts.normalizesTopK)
            }
            if let shared = experts.sharedIntermediateSize {
                object["shared_expert_intermediate_size"] = .int(Int64(shared))
            }
        }
        return object
    }
}
