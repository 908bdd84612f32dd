extension ModelFamily {
    public static let qwen2Moe = ModelFamily(rawValue: "qwen2_moe")
}

/// Qwen2-MoE (transformers `Qwen2MoeForCausalLM`, Qwen1.5-MoE): Qwen2
/// attention (q/k/v biases), experts plus a shared expert scaled by
/// `sigmoid(x · shared_expert_gate)`. Top-k weights are renormalised only
/// with `norm_topk_prob`; llama.cpp never renormalises for `qwen2moe`.
extension Architecture {
    public static let qwen2Moe = Architecture(
        family: .qwen2Moe,
        modelTypes: ["qwen2_moe"],
        transformersClass: "Qwen2MoeForCausalLM",
        ggufName: "qwen2moe",
        queryKeyValueBias: .configKey(["qkv_bias"], fallback: true),
        feedForward: .mixtureOfExperts(.qwen(sharedExpert: true, normalizesTopK: .configKey(["norm_topk_prob"], fallback: false),
                                             llamaCppNormalizesTopK: false, expertCountKey: "num_experts")),
        gateLayouts: [.separate],
        ggufKeys: GGUFHyperparameter.converterBase + [.expertFeedForwardLength, .expertSharedFeedForwardLength],
        vocabulary: .qwen2)
}
