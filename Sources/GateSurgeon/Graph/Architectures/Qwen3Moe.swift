extension ModelFamily {
    public static let qwen3Moe = ModelFamily(rawValue: "qwen3_moe")
}

/// Qwen3-MoE (transformers `Qwen3MoeForCausalLM`, Qwen3-30B-A3B family):
/// Qwen3 attention (q/k norms) and a mixture of experts in every layer.
/// The top-k weights are renormalised when `norm_topk_prob` is set;
/// llama.cpp always renormalises for `qwen3moe`.
extension Architecture {
    public static let qwen3Moe = Architecture(
        family: .qwen3Moe,
        modelTypes: ["qwen3_moe"],
        transformersClass: "Qwen3MoeForCausalLM",
        ggufName: "qwen3moe",
        queryKeyValueBias: .configKey(["attention_bias"], fallback: false),
        outputBias: .configKey(["attention_bias"], fallback: false),
        queryKeyNorm: .always,
        feedForward: .mixtureOfExperts(.qwen(sharedExpert: false, normalizesTopK: .configKey(["norm_topk_prob"], fallback: false),
                                             llamaCppNormalizesTopK: true, expertCountKey: "num_local_experts")),
        gateLayouts: [.qwen3Next, .separate],
        ggufKeys: GGUFHyperparameter.converterBase + [.expertFeedForwardLength],
        vocabulary: .qwen2)
}
