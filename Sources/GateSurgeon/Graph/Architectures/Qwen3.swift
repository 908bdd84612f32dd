extension ModelFamily {
    public static let qwen3 = ModelFamily(rawValue: "qwen3")
}

/// Qwen3 (transformers `Qwen3ForCausalLM`): q/k RMS norms per head. Also
/// the family of the paper's official gated-attention code, whose Qwen3
/// class switches the norms and biases with `use_qk_norm` and `qkv_bias`
/// (so a Llama, Mistral or Qwen2 layer is a Qwen3 layer with switches set).
extension Architecture {
    public static let qwen3 = Architecture(
        family: .qwen3,
        modelTypes: ["qwen3"],
        transformersClass: "Qwen3ForCausalLM",
        ggufName: "qwen3",
        queryKeyValueBias: .configKey(["qkv_bias", "attention_bias"], fallback: false),
        outputBias: .configKey(["qkv_bias", "attention_bias"], fallback: false),
        queryKeyNorm: .configKey(["use_qk_norm"], fallback: true),
        layerPattern: .fromMaxWindowLayers,
        gateLayouts: [.gatedAttention, .qwen3Next, .separate],
        vocabulary: .qwen2)
}
