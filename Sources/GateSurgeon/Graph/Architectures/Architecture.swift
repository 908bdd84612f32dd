import JSON

/// Everything gatesurgeon knows about one model family, in one place: how
/// its config.json and llama.cpp's GGUF metadata describe it, what its
/// tensors are called in both formats, how llama.cpp's converter stores
/// them, which gate layouts it carries, and what the forward pass must do
/// differently. Code elsewhere asks the architecture; it never tests the
/// family by name.
///
/// Architectures are values (`Architecture.llama`, ...) defined one per
/// file in this folder.
public struct Architecture: Sendable {
    public internal(set) var family: ModelFamily
    /// transformers `model_type` values read as this family; the first is written.
    public internal(set) var modelTypes: [String]
    /// The transformers class written to `architectures`.
    public internal(set) var transformersClass: String
    /// llama.cpp's `general.architecture`.
    public internal(set) var ggufName: String
    /// Whether a GGUF file of `ggufName` reads back as this family (Mistral
    /// is written as `llama` and reads back as Llama).
    public internal(set) var readsGGUF = true

    /// Whether q/k/v carry biases.
    public internal(set) var queryKeyValueBias = ConfigRule.never
    /// Whether o_proj carries a bias.
    public internal(set) var outputBias = ConfigRule.never
    /// Whether each head's queries and keys are RMS-normed (q_norm, k_norm).
    public internal(set) var queryKeyNorm = ConfigRule.never
    /// RMSNorm weights stored as w - 1 and applied as 1 + w (Qwen3.5).
    public internal(set) var zeroCenteredNorms = false
    /// `partial_rotary_factor` when the config has none.
    public internal(set) var defaultPartialRotaryFactor = 1.0

    /// Whether llama.cpp's converter permutes q/k rows (Llama-style
    /// interleaved RoPE; Qwen uses the NeoX layout and is stored as is).
    public internal(set) var permutesQueryKeyRows = false
    /// Whether llama.cpp reads Llama 3 RoPE scaling from a `rope_freqs` tensor.
    public internal(set) var storesRopeFrequencies = false
    /// What is added to every RMSNorm weight in GGUF (llama.cpp stores
    /// Qwen3.5's zero-centred norms as plain weights, w + 1).
    public internal(set) var ggufNormOffset: Float = 0
    /// llama.cpp's name of the norm before the feed-forward block.
    public internal(set) var ggufFeedForwardNormName = "ffn_norm.weight"

    /// A dense SwiGLU MLP, or a mixture of experts.
    public internal(set) var feedForward = FeedForwardStyle.dense

    /// The gate layouts this family's checkpoints can carry; the first is
    /// the default of `add-gate` for safetensors output.
    public internal(set) var gateLayouts: [GateLayout]
    /// Whether its config marks it gated by itself (Qwen3.5 is gated unless
    /// `attn_output_gate` is false).
    public internal(set) var gatedByDefault = false

    /// The hyperparameter keys llama.cpp's converter writes after the common
    /// ones (`block_count` ... `layer_norm_rms_epsilon`, key/value length,
    /// linear RoPE scaling, `file_type`), in its order, without the prefix.
    var ggufExtraKeys: @Sendable (ModelConfig) -> [(String, GGUFValue)] = { _ in [] }

    /// This architecture with some settings changed: a family defined as
    /// another one with differences (Mistral is Llama's layer without biases).
    func with(_ change: (inout Architecture) -> Void) -> Architecture {
        var copy = self
        change(&copy)
        return copy
    }

    /// The feed-forward block of every layer.
    public enum FeedForwardStyle: Sendable {
        /// `down(silu(gate(x)) * up(x))` (`mlp.{gate,up,down}_proj`).
        case dense
        /// A router picks `num_experts_per_tok` of `num_experts` SwiGLU experts per token.
        case mixtureOfExperts(ExpertLayout)
    }

    /// How a family stores and routes its experts.
    public struct ExpertLayout: Sendable {
        /// The router's name within a layer (`mlp.gate.weight`).
        public let router: String
        /// The prefix of expert e's tensors within a layer (`mlp.experts.`).
        public let expertPrefix: String
        /// Expert tensor names after `<prefix>E.`: gate, up, down.
        public let expertParts: (gate: String, up: String, down: String)
        /// Whether every token also goes through a shared expert scaled by
        /// `sigmoid(x · shared_expert_gate)` (`mlp.shared_expert.*`).
        public let hasSharedExpert: Bool
        /// Whether the top-k softmax weights are renormalised to sum to 1.
        public let normalizesTopK: ConfigRule
        /// Whether llama.cpp renormalises them for this architecture (it
        /// does not read `norm_topk_prob`: GGUF files carry no such key).
        public let llamaCppNormalizesTopK: Bool
        /// The config key that holds the expert count when writing config.json.
        public let expertCountKey: String
        /// The config key that holds an expert's intermediate size.
        public let expertSizeKey: String

        /// The Qwen families' layout: `mlp.gate` routes to `mlp.experts.E.{gate,up,down}_proj`
        /// of `moe_intermediate_size`.
        static func qwen(sharedExpert: Bool, normalizesTopK: ConfigRule, llamaCppNormalizesTopK: Bool, expertCountKey: String) -> ExpertLayout {
            ExpertLayout(router: "mlp.gate.weight", expertPrefix: "mlp.experts.", expertParts: ("gate_proj.weight", "up_proj.weight", "down_proj.weight"),
                         hasSharedExpert: sharedExpert, normalizesTopK: normalizesTopK, llamaCppNormalizesTopK: llamaCppNormalizesTopK,
                         expertCountKey: expertCountKey, expertSizeKey: "moe_intermediate_size")
        }
    }

    /// Something an architecture decides per checkpoint from its config.
    public enum ConfigRule: Sendable {
        case always
        case never
        /// The first of these config keys that is present; `fallback` when none is.
        case configKey([String], fallback: Bool)

        func resolve(_ config: JSONObject) -> Bool {
            switch self {
            case .always: return true
            case .never: return false
            case .configKey(let keys, let fallback):
                for key in keys { if let value = config[key]?.boolValue { return value } }
                return fallback
            }
        }
    }

    /// Every architecture.
    public static var all: [Architecture] { ModelFamily.allCases.map(\.architecture) }

    /// The architecture a transformers config names: its `model_type`, else
    /// its `architectures` class.
    static func matching(modelType: String, classes: [String]) -> Architecture? {
        if let found = all.first(where: { $0.modelTypes.contains(modelType) }) { return found }
        return all.first { architecture in classes.contains(architecture.transformersClass) }
    }

    /// The architecture a GGUF file's `general.architecture` reads back as
    /// (llama.cpp's `llama` is Llama, or Mixtral when it has experts).
    static func matching(ggufName: String, hasExperts: Bool) -> Architecture? {
        all.first { $0.readsGGUF && $0.ggufName == ggufName && $0.isMixtureOfExperts == hasExperts }
    }

    /// Whether the feed-forward block is a mixture of experts.
    public var isMixtureOfExperts: Bool {
        if case .mixtureOfExperts = feedForward { return true }
        return false
    }

    /// The expert layout, for a mixture of experts.
    public var expertLayout: ExpertLayout? {
        if case .mixtureOfExperts(let layout) = feedForward { return layout }
        return nil
    }
}
