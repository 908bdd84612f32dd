extension ModelFamily {
    public static let llama = ModelFamily(rawValue: "llama")
    public static let mistral = ModelFamily(rawValue: "mistral")
}

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
        // `LlamaModel.set_gguf_parameters`: the base keys, then the vocabulary size and the rotary dimensions.
        ggufKeys: GGUFHyperparameter.converterBase + [.vocabSize, .ropeDimensionCount])

    /// Mistral: Llama's layer without biases, with an optional sliding
    /// window over every layer; its GGUF reads back as Llama.
    public static let mistral = llama.with {
        $0.family = .mistral
        $0.modelTypes = ["mistral"]
        $0.transformersClass = "MistralForCausalLM"
        $0.readsGGUF = .never
        $0.queryKeyValueBias = .never
        $0.outputBias = .never
        $0.layerPattern = .everyLayer
    }
}
