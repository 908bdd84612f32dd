extension ModelFamily {
    public static let gemma2 = ModelFamily(rawValue: "gemma2")
    public static let gemma3 = ModelFamily(rawValue: "gemma3_text")
}

/// Gemma 2 (transformers `Gemma2ForCausalLM`) and Gemma 3's text model
/// (`Gemma3ForCausalLM`, model_type `gemma3_text`): RMSNorms before and
/// after attention and the MLP, applied as `1 + w` (llama.cpp stores
/// `w + 1`), embeddings times sqrt(hidden_size), a GELU MLP, q·k scaled by
/// `query_pre_attn_scalar`^-1/2, sliding-window layers (Gemma 2 every other
/// one, Gemma 3 all but every sixth), tied embeddings.
///
/// llama.cpp computes the GELU through an F16 table (logits ~1e-3 from
/// transformers at F32), fixes the window pattern per architecture, and
/// scales queries by 1 / sqrt(head_dim) whatever `query_pre_attn_scalar` says.
extension Architecture {
    public static let gemma2 = Architecture(
        family: .gemma2,
        modelTypes: ["gemma2"],
        transformersClass: "Gemma2ForCausalLM",
        ggufName: "gemma2",
        layer: LayerSpec(norms: .sandwich, transformersNames: [.feedForwardNorm: "pre_feedforward_layernorm.weight"]),
        queryKeyValueBias: .configKey(["attention_bias"], fallback: false),
        outputBias: .configKey(["attention_bias"], fallback: false),
        zeroCenteredNorms: true,
        activation: ActivationRule(keys: ["hidden_activation"], fallback: .geluTanh),
        scalars: ScalarRules(
            embeddingScale: .squareRootOfHiddenSize, attentionScale: .inverseSquareRootOf("query_pre_attn_scalar"),
            attentionSoftcapKey: "attn_logit_softcapping", finalLogitSoftcapKey: "final_logit_softcapping",
            ggufSoftcapDefaults: (50, 30), ggufHiddenPerHeadScaleLayers: 46),
        layerPattern: .slidingExceptEvery(period: 2, key: nil),
        gateLayouts: [.separate],
        llamaCppLimits: [.queryScaleFromHeadSize(hiddenPerHeadLayers: 46), .slidingPattern(period: 2), .defaultRopeOnly],
        // `Gemma2Model.set_gguf_parameters`, which does not call the base class's (so no RoPE keys).
        ggufKeys: [.contextLength, .embeddingLength, .blockCount, .feedForwardLength, .headCount, .headCountKV, .rmsEpsilon,
                   .keyValueLength, .fileType, .attentionLogitSoftcapping, .finalLogitSoftcapping, .slidingWindow],
        vocabulary: .gemma)

    /// Gemma 3 text: Gemma 2 with per-head q/k norms, no attention
    /// soft-cap (transformers ignores one), RoPE per layer type (local
    /// base 10000, global 1e6 with the 4B+ models' linear scaling).
    public static let gemma3 = gemma2.with {
        $0.family = .gemma3
        $0.modelTypes = ["gemma3_text"]
        $0.transformersClass = "Gemma3ForCausalLM"
        $0.configClassName = "Gemma3TextConfig"
        $0.ggufName = "gemma3"
        $0.queryKeyNorm = .always
        $0.scalars.attentionSoftcapKey = nil
        $0.scalars.ggufSoftcapDefaults = (nil, nil)
        $0.scalars.ggufHiddenPerHeadScaleLayers = 62
        $0.layerPattern = .slidingExceptEvery(period: 6, key: "sliding_window_pattern")
        $0.llamaCppLimits = [.queryScaleFromHeadSize(hiddenPerHeadLayers: 62), .slidingPattern(period: 6)]
        $0.ropePerLayerType = true
        $0.defaultRopeTheta = 1_000_000
        $0.defaultSlidingRopeTheta = 10000
        // `Gemma3Model.set_gguf_parameters`: the base keys, then the final soft-cap (when set) and the window.
        $0.ggufKeys = GGUFHyperparameter.converterBase + [.finalLogitSoftcapping, .slidingWindow]
    }
}
