/// The decoder families gatesurgeon models. Each one's knowledge lives in
/// its `Architecture`, defined in a file of this folder: adding a family is
/// a new case here, a new file there, and its tests.
public enum ModelFamily: String, Sendable, CaseIterable {
    case llama
    case mistral
    case qwen2
    case qwen3
    /// Qwen3.5 text model (transformers `Qwen3_5ForCausalLM`), all layers
    /// full attention: the native home of the qwen3-next gate layout.
    case qwen3_5 = "qwen3_5_text"
    case qwen3Moe = "qwen3_moe"
    case mixtral
    case qwen2Moe = "qwen2_moe"
    /// Qwen3.5-MoE text model, all layers full attention.
    case qwen3_5Moe = "qwen3_5_moe_text"

    /// What gatesurgeon knows about the family.
    public var architecture: Architecture {
        switch self {
        case .llama: .llama
        case .mistral: .mistral
        case .qwen2: .qwen2
        case .qwen3: .qwen3
        case .qwen3_5: .qwen3_5
        case .qwen3Moe: .qwen3Moe
        case .mixtral: .mixtral
        case .qwen2Moe: .qwen2Moe
        case .qwen3_5Moe: .qwen3_5Moe
        }
    }

    /// The families, for messages.
    public static var supportedNames: String {
        "Llama, Mistral, Qwen2, Qwen3, Qwen3.5 and the Mixture-of-Experts Qwen3-MoE, Mixtral, Qwen2-MoE and Qwen3.5-MoE text models are"
    }
}
