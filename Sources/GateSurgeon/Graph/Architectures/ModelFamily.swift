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

    /// What gatesurgeon knows about the family.
    public var architecture: Architecture {
        switch self {
        case .llama: .llama
        case .mistral: .mistral
        case .qwen2: .qwen2
        case .qwen3: .qwen3
        case .qwen3_5: .qwen3_5
        }
    }

    /// The families, for messages.
    public static var supportedNames: String { "Llama, Mistral, Qwen2, Qwen3 and Qwen3.5 text models are" }
}
