extension ModelFamily {
    public static let granite = ModelFamily(rawValue: "granite")
}

/// Granite (transformers `GraniteForCausalLM`): Llama's layer with four
/// multipliers: embeddings times `embedding_multiplier`, each residual
/// update times `residual_multiplier`, q·k times `attention_multiplier`
/// (instead of 1 / sqrt(head_dim)), logits divided by `logits_scaling`.
/// llama.cpp's converter permutes q/k as for Llama and ignores `head_dim`.
extension Architecture {
    public static let granite = Architecture(
        family: .granite,
        modelTypes: ["granite"],
        transformersClass: "GraniteForCausalLM",
        ggufName: "granite",
        queryKeyValueBias: .configKey(["attention_bias"], fallback: false),
        outputBias: .configKey(["attention_bias"], fallback: false),
        scalars: ScalarRules(
            embeddingScale: .configKey("embedding_multiplier"), residualMultiplierKey: "residual_multiplier",
            attentionScale: .configKey("attention_multiplier"), logitDivisorKey: "logits_scaling"),
        permutesQueryKeyRows: true,
        storesRopeFrequencies: true,
        gateLayouts: [.separate],
        // `GraniteModel.set_gguf_parameters`: Llama's keys without key/value lengths, then each multiplier that is set.
        ggufKeys: GGUFHyperparameter.converterBase.filter { if case .keyValueLength = $0 { false } else { true } }
            + [.vocabSize, .ropeDimensionCount, .attentionScale, .embeddingScale, .residualScale, .logitScale])
}
