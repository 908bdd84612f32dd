import JSON

/// How llama.cpp's converter stores this family: its hyperparameter keys,
/// and the row order it gives Llama's queries and keys.
extension Architecture {
    /// The architecture keys convert_hf_to_gguf.py writes, in its order:
    /// `general.*`, the common hyperparameters, the family's own keys, and
    /// `general.quantization_version` (tokenizer keys are added after).
    /// - Parameter name: `general.name` (the converter uses the model folder's name).
    func ggufMetadata(for config: ModelConfig, name: String) -> Metadata<GGUFValue> {
        let arch = ggufName
        let textConfig = config.json["text_config"]?.objectValue ?? config.json
        var metadata = Metadata<GGUFValue>([
            ("general.architecture", .string(arch)),
            ("general.type", .string("model")),
            ("general.name", .string(name)),
            ("\(arch).block_count", .uint32(UInt32(config.layerCount))),
            ("\(arch).context_length", .uint32(UInt32(config.maxPositionEmbeddings))),
            ("\(arch).embedding_length", .uint32(UInt32(config.hiddenSize))),
        ])
        // Models whose every layer is experts have no dense size (Qwen3.5-MoE).
        if !isMixtureOfExperts || textConfig["intermediate_size"] != nil || textConfig.count == 0 {
            metadata["\(arch).feed_forward_length"] = .uint32(UInt32(config.intermediateSize))
        }
        metadata["\(arch).attention.head_count"] = .uint32(UInt32(config.headCount))
        metadata["\(arch).attention.head_count_kv"] = .uint32(UInt32(config.kvHeadCount))
        metadata["\(arch).rope.freq_base"] = .float32(Float(config.ropeTheta))
        metadata["\(arch).attention.layer_norm_rms_epsilon"] = .float32(Float(config.rmsNormEps))
        if let experts = config.experts {
            metadata["\(arch).expert_count"] = .uint32(UInt32(experts.count))
            metadata["\(arch).expert_used_count"] = .uint32(UInt32(experts.perToken))
        }
        if textConfig["head_dim"] != nil {
            metadata["\(arch).attention.key_length"] = .uint32(UInt32(config.headDim))
            metadata["\(arch).attention.value_length"] = .uint32(UInt32(config.headDim))
        }
        if case .linear(let factor) = config.ropeScaling {
            metadata["\(arch).rope.scaling.type"] = .string("linear")
            metadata["\(arch).rope.scaling.factor"] = .float32(Float(factor))
        }
        metadata["general.file_type"] = .uint32(0)
        for (key, value) in ggufExtraKeys(config) { metadata["\(arch).\(key)"] = value }
        metadata["general.quantization_version"] = .uint32(GGUFMetadataBuilder.ggmlQuantizationVersion)
        return metadata
    }

    /// The row order llama.cpp's converter gives Llama q_proj/k_proj:
    /// `result[ggufRow] = transformersRow`. Within each head, the rotate-half
    /// layout (first half, second half) becomes interleaved pairs.
    /// - Complexity: O(rows); the caller has checked `rows` against the tensor.
    public static func ropeRowPermutation(rows: Int, heads: Int) -> [Int] {
        precondition(heads > 0 && rows % heads == 0 && (rows / heads) % 2 == 0, "rows must split into heads of even size")
        let headRows = rows / heads
        let half = headRows / 2
        var result = [Int](repeating: 0, count: rows)
        for head in 0..<heads {
            for pair in 0..<half {
                for side in 0..<2 {
                    result[head * headRows + pair * 2 + side] = head * headRows + side * half + pair
                }
            }
        }
        return result
    }

    /// The inverse of `ropeRowPermutation`: `result[transformersRow] = ggufRow`.
    public static func inverseRopeRowPermutation(rows: Int, heads: Int) -> [Int] {
        let forward = ropeRowPermutation(rows: rows, heads: heads)
        var inverse = [Int](repeating: 0, count: rows)
        for (ggufRow, transformersRow) in forward.enumerated() { inverse[transformersRow] = ggufRow }
        return inverse
    }
}
