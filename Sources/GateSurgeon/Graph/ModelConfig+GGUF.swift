import JSON

extension ModelConfig {
    /// Metadata keys gatesurgeon adds to a GGUF file it gated.
    public static let ggufGateGranularityKey = "gatesurgeon.attention.output_gate"

    /// Reads the hyperparameters llama.cpp stores under `general.architecture`.
    public init(gguf: GGUFFile) throws {
        let path = gguf.path
        guard let arch = gguf.architecture else {
            throw ModelError.invalidConfig(path: path, key: "general.architecture", problem: "missing")
        }
        func value(_ key: String) -> GGUFValue? { gguf.value("\(arch).\(key)") }
        func int(_ key: String) throws -> Int {
            guard let number = value(key)?.intValue, number > 0 else {
                throw ModelError.invalidConfig(path: path, key: "\(arch).\(key)", problem: "missing or not a positive integer")
            }
            return number
        }
        switch arch {
        case "llama": family = .llama
        case "qwen2": family = .qwen2
        case "qwen3": family = .qwen3
        default:
            throw ModelError.unknownArchitecture(path: path, name: arch)
        }
        hiddenSize = try int("embedding_length")
        intermediateSize = try int("feed_forward_length")
        layerCount = try int("block_count")
        headCount = try int("attention.head_count")
        kvHeadCount = value("attention.head_count_kv")?.intValue ?? headCount
        guard kvHeadCount > 0, headCount % kvHeadCount == 0 else {
            throw ModelError.invalidConfig(path: path, key: "\(arch).attention.head_count_kv", problem: "\(kvHeadCount) does not divide the head count \(headCount)")
        }
        headDim = value("attention.key_length")?.intValue ?? hiddenSize / headCount
        let embedding = gguf.tensors.first { $0.name == "token_embd.weight" }
        vocabSize = value("vocab_size")?.intValue
            ?? embedding?.shape.first
            ?? gguf.value("tokenizer.ggml.tokens")?.arrayValues?.count ?? 0
        maxPositionEmbeddings = value("context_length")?.intValue ?? 4096
        rmsNormEps = value("attention.layer_norm_rms_epsilon")?.doubleValue ?? 1e-6
        ropeTheta = value("rope.freq_base")?.doubleValue ?? 10000
        if let dimensions = value("rope.dimension_count")?.intValue, headDim > 0 {
            partialRotaryFactor = Double(dimensions) / Double(headDim)
        } else {
            partialRotaryFactor = 1
        }
        switch value("rope.scaling.type")?.stringValue {
        case "linear": ropeScaling = .linear(factor: value("rope.scaling.factor")?.doubleValue ?? 1)
        default: ropeScaling = nil
        }
        tieWordEmbeddings = !gguf.tensors.contains { $0.name == "output.weight" }
        attentionBias = gguf.tensors.contains { $0.name == "blk.0.attn_q.bias" }
        outputBias = gguf.tensors.contains { $0.name == "blk.0.attn_output.bias" }
        hasQueryKeyNorm = gguf.tensors.contains { $0.name == "blk.0.attn_q_norm.weight" }
        zeroCenteredNorms = false
        initializerRange = 0.02
        gate = nil
        if let granularity = gguf.value(ModelConfig.ggufGateGranularityKey)?.stringValue.flatMap(GateGranularity.init(rawValue:)) {
            gate = GateSpec(layout: .separate, granularity: granularity)
        }
        json = [:]
        json = transformersConfig()
    }

    /// A transformers config.json for these hyperparameters: the config as
    /// read when there is one, with the keys gatesurgeon knows set from the
    /// current values.
    public func transformersConfig() -> JSONObject {
        var object = json
        object["architectures"] = .array([.string(family.transformersClass)])
        object["model_type"] = .string(family.rawValue)
        object["hidden_size"] = .int(Int64(hiddenSize))
        object["intermediate_size"] = .int(Int64(intermediateSize))
        object["num_hidden_layers"] = .int(Int64(layerCount))
        object["num_attention_heads"] = .int(Int64(headCount))
        object["num_key_value_heads"] = .int(Int64(kvHeadCount))
        object["head_dim"] = .int(Int64(headDim))
        object["vocab_size"] = .int(Int64(vocabSize))
        object["max_position_embeddings"] = .int(Int64(maxPositionEmbeddings))
        object["rms_norm_eps"] = .double(rmsNormEps)
        if object["rope_parameters"] == nil {
            object["rope_theta"] = .double(ropeTheta)
        }
        object["tie_word_embeddings"] = .bool(tieWordEmbeddings)
        if object["rope_parameters"] == nil && object["rope_scaling"] == nil {
            switch ropeScaling {
            case .llama3(let factor, let low, let high, let original):
                object["rope_scaling"] = .object([
                    "rope_type": .string("llama3"), "factor": .double(factor), "low_freq_factor": .double(low),
                    "high_freq_factor": .double(high), "original_max_position_embeddings": .int(Int64(original)),
                ])
            case .linear(let factor):
                object["rope_scaling"] = .object(["rope_type": .string("linear"), "factor": .double(factor)])
            case nil:
                break
            }
        }
        if family == .qwen3 || family == .llama {
            object["attention_bias"] = .bool(attentionBias)
        }
        return object
    }
}
