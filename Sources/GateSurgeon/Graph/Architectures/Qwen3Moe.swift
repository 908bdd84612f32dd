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
        readsGGUF: true,
        queryKeyValueBias: .configKey(["attention_bias"], fallback: false),
        outputBias: .configKey(["attention_bias"], fallback: false),
        queryKeyNorm: .always,
        zeroCenteredNorms: false,
        defaultPartialRotaryFactor: 1,
        permutesQueryKeyRows: false,
        storesRopeFrequencies: false,
        ggufNormOffset: 0,
        ggufFeedForwardNormName: "ffn_norm.weight",
        feedForward: .mixtureOfExperts(ExpertLayout(
            router: "mlp.gate.weight", expertPrefix: "mlp.experts.", expertParts: ("gate_proj.weight", "up_proj.weight", "down_proj.weight"),
            hasSharedExpert: false, normalizesTopK: .configKey(["norm_topk_prob"], fallback: false), llamaCppNormalizesTopK: true,
            expertCountKey: "num_local_experts", expertSizeKey: "moe_intermediate_size")),
        gateLayouts: [.qwen3Next, .separate],
        gatedByDefault: false,
        ggufExtraKeys: { config in [("expert_feed_forward_length", .uint32(UInt32(config.experts?.intermediateSize ?? 0)))] },
        readGGUFKeys: { _, _ in })
}
