/// Mixtral (transformers `MixtralForCausalLM`): Llama attention and a
/// mixture of experts whose top-k weights are always renormalised. llama.cpp
/// stores it as its `llama` architecture with experts.
extension Architecture {
    public static let mixtral = Architecture(
        family: .mixtral,
        modelTypes: ["mixtral"],
        transformersClass: "MixtralForCausalLM",
        ggufName: "llama",
        readsGGUF: true,
        queryKeyValueBias: .never,
        outputBias: .never,
        queryKeyNorm: .never,
        zeroCenteredNorms: false,
        defaultPartialRotaryFactor: 1,
        permutesQueryKeyRows: true,
        storesRopeFrequencies: true,
        ggufNormOffset: 0,
        ggufFeedForwardNormName: "ffn_norm.weight",
        feedForward: .mixtureOfExperts(ExpertLayout(
            router: "block_sparse_moe.gate.weight", expertPrefix: "block_sparse_moe.experts.", expertParts: ("w1.weight", "w3.weight", "w2.weight"),
            hasSharedExpert: false, normalizesTopK: .always, llamaCppNormalizesTopK: true, expertCountKey: "num_local_experts", expertSizeKey: "intermediate_size")),
        gateLayouts: [.separate],
        gatedByDefault: false,
        ggufExtraKeys: { config in
            [("vocab_size", .uint32(UInt32(config.vocabSize))), ("rope.dimension_count", .uint32(UInt32(config.rotaryDimensions)))]
        },
        readGGUFKeys: { _, _ in })
}
