/// Qwen3.5-MoE text models (transformers `Qwen3_5MoeForCausalLM`,
/// model_type `qwen3_5_moe_text`) whose layers are all full attention: the
/// Qwen3.5 attention (native fused gate, zero-centred norms) with experts,
/// a gated shared expert, and always-renormalised top-k weights.
/// llama.cpp's `qwen35moe` stores the norms as plain weights (w + 1).
extension Architecture {
    public static let qwen3_5Moe = Architecture(
        family: .qwen3_5Moe,
        modelTypes: ["qwen3_5_moe_text", "qwen3_5_moe"],
        transformersClass: "Qwen3_5MoeForCausalLM",
        ggufName: "qwen35moe",
        readsGGUF: true,
        queryKeyValueBias: .configKey(["attention_bias"], fallback: false),
        outputBias: .configKey(["attention_bias"], fallback: false),
        queryKeyNorm: .always,
        zeroCenteredNorms: true,
        defaultPartialRotaryFactor: 0.25,
        permutesQueryKeyRows: false,
        storesRopeFrequencies: false,
        ggufNormOffset: 1,
        ggufFeedForwardNormName: "post_attention_norm.weight",
        feedForward: .mixtureOfExperts(ExpertLayout(
            router: "mlp.gate.weight", expertPrefix: "mlp.experts.", expertParts: ("gate_proj.weight", "up_proj.weight", "down_proj.weight"),
            hasSharedExpert: true, normalizesTopK: .always, llamaCppNormalizesTopK: true, expertCountKey: "num_experts", expertSizeKey: "moe_intermediate_size")),
        gateLayouts: [.qwen3Next],
        gatedByDefault: true,
        ggufExtraKeys: { config in qwen3_5ExtraKeys(config) },
        readGGUFKeys: { _, _ in })
}
