/// Llama (transformers `LlamaForCausalLM`) and Mistral, which llama.cpp
/// stores as the same `llama` architecture.
extension Architecture {
    public static let llama = Architecture(
        family: .llama,
        modelTypes: ["llama"],
        transformersClass: "LlamaForCausalLM",
        ggufName: "llama",
        readsGGUF: true,
        queryKeyValueBias: .configKey(["attention_bias"], fallback: false),
        outputBias: .configKey(["attention_bias"], fallback: false),
        queryKeyNorm: .never,
        zeroCenteredNorms: false,
        defaultPartialRotaryFactor: 1,
        permutesQueryKeyRows: true,
        storesRopeFrequencies: true,
        ggufNormOffset: 0,
        ggufFeedForwardNormName: "ffn_norm.weight",
        feedForward: .dense,
        gateLayouts: [.gatedAttention, .separate],
        gatedByDefault: false,
        ggufExtraKeys: llamaExtraKeys,
        readGGUFKeys: { _, _ in })

    /// Mistral: Llama's layer with an optional sliding window.
    public static let mistral = Architecture(
        family: .mistral,
        modelTypes: ["mistral"],
        transformersClass: "MistralForCausalLM",
        ggufName: "llama",
        readsGGUF: false,
        queryKeyValueBias: .never,
        outputBias: .never,
        queryKeyNorm: .never,
        zeroCenteredNorms: false,
        defaultPartialRotaryFactor: 1,
        permutesQueryKeyRows: true,
        storesRopeFrequencies: true,
        ggufNormOffset: 0,
        ggufFeedForwardNormName: "ffn_norm.weight",
        feedForward: .dense,
        gateLayouts: [.gatedAttention, .separate],
        gatedByDefault: false,
        ggufExtraKeys: llamaExtraKeys,
        readGGUFKeys: { _, _ in })

    /// `LlamaModel.set_gguf_parameters`: the vocabulary size and the rotary dimensions.
    private static let llamaExtraKeys: @Sendable (ModelConfig) -> [(String, GGUFValue)] = { config in
        [("vocab_size", .uint32(UInt32(config.vocabSize))), ("rope.dimension_count", .uint32(UInt32(config.rotaryDimensions)))]
    }
}
