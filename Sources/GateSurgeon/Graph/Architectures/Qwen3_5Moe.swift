extension ModelFamily {
    public static let qwen3_5Moe = ModelFamily(rawValue: "qwen3_5_moe_text")
}

/// Qwen3.5-MoE text models (transformers `Qwen3_5MoeForCausalLM`,
/// model_type `qwen3_5_moe_text`) whose layers are all full attention: the
/// Qwen3.5 attention (native fused gate, zero-centred norms) with experts,
/// a gated shared expert, and always-renormalised top-k weights.
/// llama.cpp's `qwen35moe` stores the norms as plain weights (w + 1).
extension Architecture {
    public static let qwen3_5Moe = qwen3_5.with {
        $0.family = .qwen3_5Moe
        $0.modelTypes = ["qwen3_5_moe_text", "qwen3_5_moe"]
        $0.transformersClass = "Qwen3_5MoeForCausalLM"
        $0.ggufName = "qwen35moe"
        $0.feedForward = .mixtureOfExperts(.qwen(sharedExpert: true, normalizesTopK: .always, llamaCppNormalizesTopK: true,
                                                 expertCountKey: "num_experts"))
    }
}
