extension ModelFamily {
    public static let olmo2 = ModelFamily(rawValue: "olmo2")
}

/// OLMo 2 (transformers `Olmo2ForCausalLM`): no norm before attention or
/// the MLP; RMSNorms of their outputs before each residual add; q_norm and
/// k_norm over the whole projection (`[H*d]`, `[K*d]`) before the head split.
/// llama.cpp's `olmo2` requires `output.weight` (a tied model does not load there).
extension Architecture {
    public static let olmo2 = Architecture(
        family: .olmo2,
        modelTypes: ["olmo2"],
        transformersClass: "Olmo2ForCausalLM",
        ggufName: "olmo2",
        readsGGUF: .whenKeyAbsent(GGUFKey.slidingWindow),
        layer: LayerSpec(norms: .postNorm, queryKeyNormWidth: .fullWidth),
        queryKeyNorm: .always,
        gateLayouts: [.separate],
        ggufKeys: GGUFHyperparameter.converterBase,
        vocabulary: .qwen2)
}
