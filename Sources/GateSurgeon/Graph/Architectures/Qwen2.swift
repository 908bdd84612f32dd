/// Qwen2 (transformers `Qwen2ForCausalLM`): biases on q, k and v.
extension Architecture {
    public static let qwen2 = Architecture(
        family: .qwen2,
        modelTypes: ["qwen2"],
        transformersClass: "Qwen2ForCausalLM",
        ggufName: "qwen2",
        readsGGUF: true,
        queryKeyValueBias: .always,
        outputBias: .never,
        queryKeyNorm: .never,
        zeroCenteredNorms: false,
        defaultPartialRotaryFactor: 1,
        permutesQueryKeyRows: false,
        storesRopeFrequencies: false,
        ggufNormOffset: 0,
        ggufFeedForwardNormName: "ffn_norm.weight",
        feedForward: .dense,
        gateLayouts: [.gatedAttention, .separate],
        gatedByDefault: false,
        ggufExtraKeys: { _ in [] },
        readGGUFKeys: { _, _ in })
}
