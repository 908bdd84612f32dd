/// Qwen3.5 text models (transformers `Qwen3_5ForCausalLM`, model_type
/// `qwen3_5_text`) whose layers are all full attention: the gate is native
/// (qwen3-next layout, fused into q_proj), RMSNorm weights are zero-centred,
/// RoPE rotates a quarter of each head unless the config says otherwise.
/// llama.cpp's `qwen35` stores the norms as plain weights (w + 1).
extension Architecture {
    public static let qwen3_5 = Architecture(
        family: .qwen3_5,
        modelTypes: ["qwen3_5_text", "qwen3_5"],
        transformersClass: "Qwen3_5ForCausalLM",
        ggufName: "qwen35",
        readsGGUF: true,
        queryKeyValueBias: .configKey(["attention_bias"], fallback: false),
        outputBias: .configKey(["attention_bias"], fallback: false),
        queryKeyNorm: .always,
        zeroCenteredNorms: true,
        defaultPartialRotaryFactor: 0.25,
        permutesQueryKeyRows: false,
        storesRopeFrequencies: false,
        ggufNormOffset: 1,
        gateLayouts: [.qwen3Next],
        gatedByDefault: true,
        ggufExtraKeys: { _ in [] },
        readGGUFKeys: { _, _ in })
}
