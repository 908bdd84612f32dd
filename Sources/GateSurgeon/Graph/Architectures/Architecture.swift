import JSON

/// Everything gatesurgeon knows about one model family, in one place: the
/// parts of its layer and their names in both formats (`LayerSpec`), how
/// its config.json and llama.cpp's GGUF metadata describe it, how llama.cpp's
/// converter stores it, which gate layouts it carries, and the scalars its
/// forward pass applies. Code elsewhere asks the architecture; it never
/// tests the family by name.
///
/// Architectures are values (`Architecture.llama`, ...) defined one per
/// file in this folder and listed in `Architecture.all`.
public struct Architecture: Sendable {
    public internal(set) var family: ModelFamily
    /// transformers `model_type` values read as this family; the first is written.
    public internal(set) var modelTypes: [String]
    /// The transformers class written to `architectures`.
    public internal(set) var transformersClass: String
    /// transformers' config class of `transformersClass`, where it is not
    /// the class name with `Config` for `ForCausalLM` (Gemma 3's text model).
    var configClassName: String?
    /// llama.cpp's `general.architecture`.
    public internal(set) var ggufName: String
    /// When a GGUF file of `ggufName` reads back as this family (Mistral is
    /// written as `llama` and reads back as Llama; OLMo 3 is `olmo2` with a
    /// sliding window).
    public internal(set) var readsGGUF = GGUFRecognition.always
    /// The layer's parts and their names.
    public internal(set) var layer = LayerSpec()

    /// Whether q/k/v carry biases.
    public internal(set) var queryKeyValueBias = ConfigRule.never
    /// Whether o_proj carries a bias.
    public internal(set) var outputBias = ConfigRule.never
    /// Whether queries and keys are RMS-normed (q_norm, k_norm).
    public internal(set) var queryKeyNorm = ConfigRule.never
    /// RMSNorm weights stored as w - 1 and applied as 1 + w (Gemma, Qwen3.5);
    /// llama.cpp's converter stores them as plain weights, w + 1.
    public internal(set) var zeroCenteredNorms = false
    /// `partial_rotary_factor` when the config has none.
    public internal(set) var defaultPartialRotaryFactor = 1.0
    /// The MLP's activation when the config names none, and the keys that name it.
    public internal(set) var activation = ActivationRule(keys: ["hidden_act"], fallback: .silu)
    /// Scalars the forward pass applies beyond Llama's (Gemma, Granite).
    public internal(set) var scalars = ScalarRules()
    /// Which layers attend through a sliding window.
    public internal(set) var layerPattern = LayerPatternRule.fullAttention
    /// Which layers skip RoPE (SmolLM3).
    public internal(set) var noRope = NoRopeRule.never
    /// The RoPE base when the config names none (transformers' `default_theta`).
    public internal(set) var defaultRopeTheta = 10000.0
    /// The RoPE base of sliding-window layers when the config (or a GGUF
    /// file) names none; nil: the same RoPE as the full-attention layers.
    public internal(set) var defaultSlidingRopeTheta: Double?
    /// Whether its config keeps RoPE settings per layer type
    /// (`rope_parameters.full_attention` / `.sliding_attention`), and
    /// llama.cpp's converter writes `rope.freq_base_swa` for it.
    public internal(set) var ropePerLayerType = false

    /// Whether llama.cpp's converter permutes q/k rows (Llama-style
    /// interleaved RoPE; the others use the NeoX layout and are stored as is).
    public internal(set) var permutesQueryKeyRows = false
    /// Whether llama.cpp reads Llama 3 RoPE scaling from a `rope_freqs` tensor.
    public internal(set) var storesRopeFrequencies = false

    /// A dense MLP, or a mixture of experts.
    public internal(set) var feedForward = FeedForwardStyle.dense

    /// The gate layouts this family's checkpoints can carry; the first is
    /// the default of `add-gate` for safetensors output.
    public internal(set) var gateLayouts: [GateLayout]
    /// Whether its config marks it gated by itself (Qwen3.5 is gated unless
    /// `attn_output_gate` is false).
    public internal(set) var gatedByDefault = false
    /// Where llama.cpp computes the family otherwise than transformers; a
    /// GGUF written of a model they touch gets a warning (`llamaCppDifferences`).
    public internal(set) var llamaCppLimits: [LlamaCppLimit] = []

    /// The hyperparameter keys llama.cpp's converter writes, in its order.
    public internal(set) var ggufKeys: [GGUFHyperparameter] = GGUFHyperparameter.converterBase
    /// Which converter class's `set_vocab` writes the tokenizer keys.
    public internal(set) var vocabulary = TokenizerGGUFMetadata.ConverterModel.llama

    /// This architecture with some settings changed: a family defined as
    /// another one with differences (Mistral is Llama's layer without biases).
    func with(_ change: (inout Architecture) -> Void) -> Architecture {
        var copy = self
        change(&copy)
        return copy
    }

    /// The feed-forward block of every layer.
    public enum FeedForwardStyle: Sendable {
        /// `down(act(gate(x)) * up(x))` (`LayerRole.feedForward*`).
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

    /// Where a family's config names the MLP activation.
    public struct ActivationRule: Sendable {
        public var keys: [String]
        public var fallback: Activation
    }

    /// Where a family's config keeps the scalars of its forward pass; nil
    /// where the family has none.
    public struct ScalarRules: Sendable {
        /// Embeddings are multiplied by this.
        public var embeddingScale: EmbeddingScale?
        /// Attention and MLP outputs are multiplied by this key's value before the residual add (Granite).
        public var residualMultiplierKey: String?
        /// What q·k is multiplied by.
        public var attentionScale = AttentionScale.inverseSquareRootOfHeadDim
        /// Attention scores become `c * tanh(s / c)` with c from this key (Gemma 2).
        public var attentionSoftcapKey: String?
        /// Logits become `c * tanh(l / c)` with c from this key (Gemma 2).
        public var finalLogitSoftcapKey: String?
        /// Logits are divided by this key's value (Granite's `logits_scaling`).
        public var logitDivisorKey: String?
        /// The soft-caps llama.cpp applies when a GGUF file has no key for them (Gemma 2: 50 and 30).
        public var ggufSoftcapDefaults: (attention: Float?, final: Float?) = (nil, nil)
        /// The layer count at which llama.cpp scales queries by 1 / sqrt(hidden / heads)
        /// instead of 1 / sqrt(head_dim) (Gemma's 27B models).
        public var ggufHiddenPerHeadScaleLayers: Int?
    }

    /// How a family scales its embeddings.
    public enum EmbeddingScale: Sendable {
        /// By sqrt(hidden_size) (Gemma).
        case squareRootOfHiddenSize
        /// By a config value (Granite's `embedding_multiplier`).
        case configKey(String)
    }

    /// What a family multiplies q·k by.
    public enum AttentionScale: Sendable {
        /// 1 / sqrt(head_dim).
        case inverseSquareRootOfHeadDim
        /// 1 / sqrt(value of the key) (Gemma's `query_pre_attn_scalar`).
        case inverseSquareRootOf(String)
        /// The key's value itself (Granite's `attention_multiplier`).
        case configKey(String)
    }

    /// Which layers attend through a sliding window, when the config does
    /// not list them in `layer_types`.
    public enum LayerPatternRule: Sendable {
        /// None: the family has no sliding-window attention (a `layer_types`
        /// listing sliding layers is refused, as transformers ignores it).
        case fullAttention
        /// Every layer, when the config sets `sliding_window` (Mistral).
        case everyLayer
        /// With `use_sliding_window`, the layers from `max_window_layers` on (Qwen2, Qwen3).
        case fromMaxWindowLayers
        /// Layer i slides unless `(i + 1) % period == 0`, the period read
        /// from `key` when present (Gemma 2: 2, Gemma 3: `sliding_window_pattern`, OLMo 3: 4).
        case slidingExceptEvery(period: Int, key: String?)
        /// Whatever the config's `layer_types` lists; full attention without it (SmolLM3).
        case asListed
    }

    /// Which layers skip RoPE when the config does not list them in `no_rope_layers`.
    public enum NoRopeRule: Sendable {
        /// Every layer applies RoPE.
        case never
        /// Layer i skips RoPE when `(i + 1) % interval == 0`, the interval
        /// read from `key` (SmolLM3: `no_rope_layer_interval`, 4; llama.cpp hard-codes it).
        case everyNth(key: String, interval: Int)
    }

    /// When a GGUF file of the family's `ggufName` is this family.
    public enum GGUFRecognition: Sendable {
        case always
        /// Never: another family reads the name (Mistral's files are Llama's).
        case never
        /// When the file has this key under the architecture prefix.
        case whenKeyPresent(String)
        /// When the file lacks this key.
        case whenKeyAbsent(String)

        func accepts(_ file: HyperparameterReader) -> Bool {
            switch self {
            case .always: true
            case .never: false
            case .whenKeyPresent(let key): file.has(key)
            case .whenKeyAbsent(let key): !file.has(key)
            }
        }
    }

    /// model_types gatesurgeon recognises and refuses, with the reason.
    static let refusals: [(modelType: String, reason: String)] = [
        ("qwen3_next", "Qwen3-Next models mix linear and full attention; only full-attention decoders are supported"),
        ("gemma3", "this is Gemma 3's multimodal checkpoint (Gemma3ForConditionalGeneration); gatesurgeon reads Gemma 3's text model (model_type gemma3_text, Gemma3ForCausalLM)"),
    ]

    /// Every architecture gatesurgeon models.
    public static let all: [Architecture] = [
        .llama, .mistral, .qwen2, .qwen3, .qwen3_5, .qwen3Moe, .mixtral, .qwen2Moe, .qwen3_5Moe,
        .gemma2, .gemma3, .phi3, .olmo2, .olmo3, .granite, .smollm3,
    ]

    static let byFamily = Dictionary(uniqueKeysWithValues: all.map { ($0.family, $0) })

    /// The architecture a transformers config names: its `model_type`, else
    /// its `architectures` class.
    static func matching(modelType: String, classes: [String]) -> Architecture? {
        if let found = all.first(where: { $0.modelTypes.contains(modelType) }) { return found }
        return all.first { architecture in classes.contains(architecture.transformersClass) }
    }

    /// The architecture a GGUF file's `general.architecture` reads back as
    /// (llama.cpp's `llama` is Llama, or Mixtral when it has experts).
    static func matching(ggufName: String, file: HyperparameterReader) -> Architecture? {
        let hasExperts = file.has(GGUFKey.expertCount)
        return all.first { $0.ggufName == ggufName && $0.isMixtureOfExperts == hasExperts && $0.readsGGUF.accepts(file) }
    }

    /// transformers' config class of the family (`LlamaConfig`).
    public var transformersConfigClass: String {
        configClassName ?? transformersClass.replacingFirst("ForCausalLM", with: "Config")
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

/// A decoder family gatesurgeon models, named as transformers names its
/// `model_type`. Each family's knowledge lives in its `Architecture`.
public struct ModelFamily: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// What gatesurgeon knows about the family.
    public var architecture: Architecture {
        guard let found = Architecture.byFamily[self] else {
            preconditionFailure("family \(rawValue) has no architecture in Architecture.all")
        }
        return found
    }

    public var description: String { rawValue }

    /// The families, for messages.
    public static var supportedNames: String {
        Architecture.all.map(\.family.rawValue).joined(separator: ", ")
    }
}
