extension ModelFamily {
    public static let qwen3_5 = ModelFamily(rawValue: "qwen3_5_text")
}

/// Qwen3.5 text models (transformers `Qwen3_5ForCausalLM`, model_type
/// `qwen3_5_text`) whose layers are all full attention: the gate is native
/// (qwen3-next layout, fused into q_proj), RMSNorm weights are zero-centred,
/// RoPE rotates a quarter of each head unless the config says otherwise.
/// llama.cpp's `qwen35` stores the norms as plain weights (w + 1) and calls
/// the norm before the MLP `post_attention_norm`.
extension Architecture {
    public static let qwen3_5 = Architecture(
        family: .qwen3_5,
        modelTypes: ["qwen3_5_text", "qwen3_5"],
        transformersClass: "Qwen3_5ForCausalLM",
        ggufName: "qwen35",
        layer: LayerSpec(ggufNames: [.feedForwardNorm: "post_attention_norm.weight"], ggufAliases: ["ffn_norm.weight": .feedForwardNorm]),
        queryKeyValueBias: .configKey(["attention_bias"], fallback: false),
        outputBias: .configKey(["attention_bias"], fallback: false),
        queryKeyNorm: .always,
        zeroCenteredNorms: true,
        defaultPartialRotaryFactor: 0.25,
        gateLayouts: [.qwen3Next],
        gatedByDefault: true,
        ggufKeys: GGUFHyperparameter.converterBase + [.custom(qwen3_5ExtraKeys)],
        vocabulary: .qwen2)

    /// `Qwen3_5TextModel.set_gguf_parameters` of llama.cpp's converter: the
    /// linear-attention (`ssm.*`) sizes from the config's `linear_*` keys
    /// (unused when every layer is full attention, but llama.cpp requires
    /// them), which layers are recurrent, and the rotary sections.
    @Sendable static func qwen3_5ExtraKeys(_ config: ModelConfig) -> [(String, GGUFValue)] {
        let text = config.hyperparameters.object ?? [:]
        func int(_ key: String, _ fallback: Int) -> Int { text[key]?.intValue.map { Int($0) } ?? fallback }
        let valueHeads = int("linear_num_value_heads", 32)
        let sections = (text["rope_parameters"]?["mrope_section"]?.arrayValue ?? []).compactMap { $0.intValue.map { Int32($0) } }
        var keys: [(String, GGUFValue)] = []
        if let experts = config.experts {
            keys.append((GGUFKey.expertFeedForwardLength, .uint32(UInt32(experts.intermediateSize))))
            if let shared = experts.sharedIntermediateSize {
                keys.append((GGUFKey.expertSharedFeedForwardLength, .uint32(UInt32(shared))))
            }
        }
        keys += [
            ("ssm.conv_kernel", .uint32(UInt32(int("linear_conv_kernel_dim", 4)))),
            ("ssm.state_size", .uint32(UInt32(int("linear_key_head_dim", 128)))),
            ("ssm.group_count", .uint32(UInt32(int("linear_num_key_heads", 16)))),
            ("ssm.time_step_rank", .uint32(UInt32(valueHeads))),
            ("ssm.inner_size", .uint32(UInt32(int("linear_value_head_dim", 128) * valueHeads))),
            ("attention.recurrent_layers", .array(elementType: .bool, values: Array(repeating: .bool(false), count: config.layerCount))),
            ("full_attention_interval", .uint32(UInt32(int("full_attention_interval", 4)))),
            (GGUFKey.ropeDimensionCount, .uint32(UInt32(config.rotaryDimensions))),
            ("rope.dimension_sections", .array(elementType: .int32, values: ((sections.isEmpty ? [11, 11, 10] : sections) + [0, 0, 0, 0]).prefix(4).map { .int32($0) })),
        ]
        return keys
    }
}
