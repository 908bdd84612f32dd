extension ModelFamily {
    public static let mixtral = ModelFamily(rawValue: "mixtral")
}

/// Mixtral (transformers `MixtralForCausalLM`): Llama attention without
/// biases and a mixture of experts whose top-k weights are always
/// renormalised. llama.cpp stores it as its `llama` architecture with experts.
extension Architecture {
    public static let mixtral = llama.with {
        $0.family = .mixtral
        $0.modelTypes = ["mixtral"]
        $0.transformersClass = "MixtralForCausalLM"
        $0.queryKeyValueBias = .never
        $0.outputBias = .never
        $0.feedForward = .mixtureOfExperts(ExpertLayout(
            router: "block_sparse_moe.gate.weight", expertPrefix: "block_sparse_moe.experts.", expertParts: ("w1.weight", "w3.weight", "w2.weight"),
            hasSharedExpert: false, normalizesTopK: .always, llamaCppNormalizesTopK: true, expertCountKey: "num_local_experts", expertSizeKey: "intermediate_size"))
        $0.gateLayouts = [.separate]
    }
}
