extension ModelFamily {
    public static let olmo3 = ModelFamily(rawValue: "olmo3")
}

/// OLMo 3 (transformers `Olmo3ForCausalLM`): OLMo 2's layer with sliding-
/// window layers (all but every fourth by default) and RoPE settings per
/// layer type; llama.cpp stores it as `olmo2` with the window and the layer
/// pattern. Every part exists in other families (OLMo 2's layer, Gemma's
/// sliding-window pattern), so this file is all the family takes.
extension Architecture {
    public static let olmo3 = olmo2.with {
        $0.family = .olmo3
        $0.modelTypes = ["olmo3"]
        $0.transformersClass = "Olmo3ForCausalLM"
        $0.readsGGUF = .whenKeyPresent(GGUFKey.slidingWindow)
        $0.layerPattern = .slidingExceptEvery(period: 4, key: nil)
        $0.ropePerLayerType = true
        $0.llamaCppLimits = [.fullBaseOnSlidingLayers]
        // `Olmo2Model.set_gguf_parameters`: the base keys, then the window and which layers slide.
        $0.ggufKeys = GGUFHyperparameter.converterBase + [.slidingWindow, .slidingWindowPattern]
    }
}
