/// Llama (transformers `LlamaForCausalLM`) and Mistral, which llama.cpp
/// stores as the same `llama` architecture.
extension Architecture {
    public static let llama = Architecture(
        family: .llama,
        modelTypes: ["llama"],
        transformersClass: "LlamaForCausalLM",
        ggufName: "llama",
        queryKeyValueBias: .configKey(["attention_bias"], fallback: false),
        outputBias: .configKey(["attention_bias"], fallback: false),
        permutesQueryKeyRows: true,
        storesRopeFrequencies: true,
        gateLayouts: [.gatedAttention, .separate],
        ggufExtraKeys: llamaExtraKeys)

    /// Mistral: Llama's layer without biases, with an optional sliding
    /// window; its GGUF reads back as Llama.
    public static let mistral = llama.with {
        $0.family = .mistral
        $0.modelTypes = ["mistral"]
        $0.transformersClass = "MistralForCausalLM"
        $0.readsGGUF = false
        $0.queryKeyValueBias = .never
        $0.outputBias = .never
    }

    /// `LlamaModel.set_gguf_parameters`: the vocabulary size and the rotary dimensions.
    static let llamaExtraKeys: @Sendable (ModelConfig) -> [(String, GGUFValue)] = { config in
        [("vocab_size", .uint32(UInt32(config.vocabSize))), ("rope.dimension_count", .uint32(UInt32(config.rotaryDimensions)))]
    }
}
