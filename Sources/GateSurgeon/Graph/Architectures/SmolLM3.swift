extension ModelFamily {
    public static let smollm3 = ModelFamily(rawValue: "smollm3")
}

/// SmolLM3 (transformers `SmolLM3ForCausalLM`): Llama's layer, with RoPE
/// skipped in some layers (`no_rope_layers`, by default every fourth).
/// llama.cpp hard-codes that every-fourth pattern; the converter writes
/// nothing about it.
extension Architecture {
    public static let smollm3 = Architecture(
        family: .smollm3,
        modelTypes: ["smollm3"],
        transformersClass: "SmolLM3ForCausalLM",
        ggufName: "smollm3",
        queryKeyValueBias: .configKey(["attention_bias"], fallback: false),
        outputBias: .configKey(["attention_bias"], fallback: false),
        layerPattern: .asListed,
        noRope: .everyNth(key: "no_rope_layer_interval", interval: 4),
        permutesQueryKeyRows: true,
        storesRopeFrequencies: true,
        gateLayouts: [.separate],
        llamaCppLimits: [.noRopePeriod(4)],
        ggufKeys: GGUFHyperparameter.converterBase + [.vocabSize, .ropeDimensionCount])
}
