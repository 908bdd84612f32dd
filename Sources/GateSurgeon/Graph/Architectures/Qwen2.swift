extension ModelFamily {
    public static let qwen2 = ModelFamily(rawValue: "qwen2")
}

/// Qwen2 (transformers `Qwen2ForCausalLM`): biases on q, k and v.
extension Architecture {
    public static let qwen2 = Architecture(
        family: .qwen2,
        modelTypes: ["qwen2"],
        transformersClass: "Qwen2ForCausalLM",
        ggufName: "qwen2",
        queryKeyValueBias: .always,
        layerPattern: .fromMaxWindowLayers,
        gateLayouts: [.gatedAttention, .separate],
        vocabulary: .qwen2)
}
