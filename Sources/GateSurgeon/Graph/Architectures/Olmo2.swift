extension ModelFamily {
    public static let olmo2 = ModelFamily(rawValue: "olmo2")
    public static let olmo3 = ModelFamily(rawValue: "olmo3")
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

    /// OLMo 3 (transformers `Olmo3ForCausalLM`): OLMo 2's layer with sliding-
    /// window layers (all but every fourth by default) and RoPE settings per
    /// layer type; llama.cpp stores it as `olmo2` with the window and the
    /// layer pattern.
    public static let olmo3 = olmo2.with {
        $0.family = .olmo3
        $0.modelTypes = ["olmo3"]
        $0.transformersClass = "Olmo3ForCausalLM"
        $0.readsGGUF = .whenKeyPresent(GGUFKey.slidingWindow)
        $0.layerPattern = .slidingExceptEvery(period: 4, key: nil)
        $0.ropePerLayerType = true
        // `Olmo2Model.set_gguf_parameters`: the base keys, then the window and which layers slide.
        $0.ggufKeys = GGUFHyperparameter.converterBase + [.slidingWindow, .slidingWindowPattern]
    }
}
