extension ModelFamily {
    public static let phi3 = ModelFamily(rawValue: "phi3")
}

/// Phi-3 and Phi-4-mini (transformers `Phi3ForCausalLM`): q, k and v in one
/// `qkv_proj`, gate and up in one `gate_up_proj` (llama.cpp keeps both
/// fused: `attn_qkv`, `ffn_up`), partial rotary dimensions, LongRoPE, and a
/// sliding window over every layer when the config sets one (llama.cpp
/// switches Phi-3's window off: beyond the window it computes full attention).
extension Architecture {
    public static let phi3 = Architecture(
        family: .phi3,
        modelTypes: ["phi3"],
        transformersClass: "Phi3ForCausalLM",
        ggufName: "phi3",
        layer: LayerSpec(fusedQueryKeyValue: true, fusedGateUp: true),
        layerPattern: .everyLayer,
        gateLayouts: [.separate],
        llamaCppLimits: [.ignoresSlidingWindow],
        // `Phi3MiniModel.set_gguf_parameters`, which does not call the base class's; LongRoPE's
        // cos/sin factor is written first, by generate_extra_tensors.
        ggufKeys: [
            .longRoPEAttentionFactor, .contextLength, .ropeScalingOriginalContext, .embeddingLength, .feedForwardLength,
            .blockCount, .headCount, .headCountKV, .rmsEpsilon, .ropeDimensionCount, .ropeFreqBase, .fileType, .slidingWindowOrZero,
        ],
        vocabulary: .phi3)
}
