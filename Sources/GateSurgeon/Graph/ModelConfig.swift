import Platform
import JSON

/// Why a model could not be understood.
public enum ModelError: Error, Sendable, CustomStringConvertible {
    case invalidConfig(path: String, key: String, problem: String)
    case unsupportedModel(path: String, problem: String)
    case missingTensor(path: String, tensor: String)
    case wrongShape(path: String, tensor: String, expected: [Int], found: [Int])
    case noConfig(path: String, looked: [String])
    /// The config's hyperparameters do not fit the checkpoint's tensors.
    case configMismatch(path: String, config: String, problem: String)
    /// The architecture is not one gatesurgeon models (`name` as the file spells it).
    case unknownArchitecture(path: String, name: String)

    /// Whether the model's architecture is unknown (tensor-level work still applies).
    public var isUnknownArchitecture: Bool {
        if case .unknownArchitecture = self { return true }
        return false
    }

    /// The file the error is about.
    public var path: String {
        switch self {
        case .invalidConfig(let path, _, _), .unsupportedModel(let path, _), .missingTensor(let path, _),
            .wrongShape(let path, _, _, _), .noConfig(let path, _), .configMismatch(let path, _, _), .unknownArchitecture(let path, _):
            path
        }
    }

    /// What is wrong, without the path.
    public var problem: String {
        switch self {
        case .invalidConfig(_, let key, let problem): "config key '\(key)': \(problem)"
        case .unsupportedModel(_, let problem): problem
        case .missingTensor(_, let tensor): "missing tensor '\(tensor)'"
        case .wrongShape(_, let tensor, let expected, let found): "tensor '\(tensor)' has shape \(found), expected \(expected)"
        case .noConfig(_, let looked):
            "no config found: none in its metadata, and no \(looked.map { Paths.lastComponent(of: $0) }.joined(separator: " or ")) beside it"
        case .configMismatch(_, let config, let problem): "does not match the config \(config): \(problem)"
        case .unknownArchitecture(_, let name):
            "architecture '\(name)' is not one gatesurgeon models (it models \(ModelFamily.supportedNames))"
        }
    }

    public var description: String { "\(path): \(problem)" }
}

/// A decoder's hyperparameters, from a transformers config.json or GGUF
/// metadata, checked for range before anything indexes, allocates or
/// loops with them (`validate`).
public struct ModelConfig: Sendable {
    /// What gatesurgeon knows about the family.
    public var architecture: Architecture
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDim: Int
    public var vocabSize: Int
    public var maxPositionEmbeddings: Int
    public var rmsNormEps: Double
    /// RoPE of the full-attention layers (and of every layer unless `slidingRope` is set).
    public var rope: RoPE
    /// RoPE of the sliding-window layers, where it differs (Gemma 3's local base).
    public var slidingRope: RoPE?
    /// Fraction of each head's dimensions that RoPE rotates.
    public var partialRotaryFactor: Double
    public var tieWordEmbeddings: Bool
    /// q/k/v projections carry biases.
    public var attentionBias: Bool
    /// o_proj carries a bias.
    public var outputBias: Bool
    /// q_norm / k_norm RMSNorms (per head, or full width: `LayerSpec.queryKeyNormWidth`).
    public var hasQueryKeyNorm: Bool
    /// RMSNorm weights stored as w - 1, applied as 1 + w (Gemma, Qwen3.5).
    public var zeroCenteredNorms: Bool
    /// The MLP's activation.
    public var activation: Activation
    /// Granite's `embedding_multiplier`.
    public var embeddingMultiplier: Float?
    /// Granite's `residual_multiplier`.
    public var residualMultiplier: Float?
    /// Granite's `attention_multiplier`, which replaces 1 / sqrt(head_dim).
    public var attentionMultiplier: Float?
    /// Gemma's `query_pre_attn_scalar`: q·k is scaled by its inverse square root.
    public var queryPreAttentionScalar: Double?
    /// Gemma 2's `attn_logit_softcapping`.
    public var attentionSoftcap: Float?
    /// Gemma 2's `final_logit_softcapping`.
    public var finalLogitSoftcap: Float?
    /// Granite's `logits_scaling`: logits are divided by it.
    public var logitDivisor: Float?
    /// The context length RoPE scaling was trained at (`original_max_position_embeddings`).
    public var originalContextLength: Int {
        switch rope.scaling {
        case .longRoPE(let long): return long.originalContext
        case .yarn(let yarn): return yarn.originalContext
        case .llama3(_, _, _, let original): return original
        case .linear, nil:
            return hyperparameters.object?["original_max_position_embeddings"]?.intValue.flatMap { Int(exactly: $0) }
                .flatMap { (1...Limits.context).contains($0) ? $0 : nil } ?? maxPositionEmbeddings
        }
    }

    /// The window of sliding-window layers, in keys including the query's own.
    public var slidingWindow: Int?
    /// Per layer, whether it attends through the sliding window.
    public var slidingLayers: [Bool]
    /// Per layer, whether it applies RoPE (SmolLM3 skips it in some layers).
    public var ropeLayers: [Bool]
    public var gate: GateSpec?
    public var initializerRange: Double
    /// The mixture of experts, for families that have one.
    public var experts: ExpertConfig?
    /// The config as read, for keys gatesurgeon passes through untouched.
    public var json: JSONObject

    /// A mixture of experts' sizes and routing.
    public struct ExpertConfig: Sendable, Equatable {
        /// Experts per layer.
        public var count: Int
        /// Experts each token is routed to (top-k).
        public var perToken: Int
        /// The intermediate size of one expert.
        public var intermediateSize: Int
        /// Whether the top-k softmax weights are renormalised to sum to 1.
        public var normalizesTopK: Bool
        /// The intermediate size of the shared expert, when there is one.
        public var sharedIntermediateSize: Int?

        public init(count: Int, perToken: Int, intermediateSize: Int, normalizesTopK: Bool, sharedIntermediateSize: Int? = nil) {
            self.count = count
            self.perToken = perToken
            self.intermediateSize = intermediateSize
            self.normalizesTopK = normalizesTopK
            self.sharedIntermediateSize = sharedIntermediateSize
        }
    }

    /// The family.
    public var family: ModelFamily { architecture.family }

    /// A config built in memory; the family's rules set biases, q/k norms,
    /// norm centring and the activation, which callers may change afterwards.
    public init(
        family: ModelFamily, hiddenSize: Int, intermediateSize: Int, layerCount: Int, headCount: Int, kvHeadCount: Int,
        headDim: Int, vocabSize: Int, maxPositionEmbeddings: Int = 4096, rmsNormEps: Double = 1e-6, rope: RoPE = RoPE(theta: 10000),
        partialRotaryFactor: Double? = nil, tieWordEmbeddings: Bool = false, initializerRange: Double = 0.02
    ) {
        let architecture = family.architecture
        self.architecture = architecture
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.headDim = headDim
        self.vocabSize = vocabSize
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.rmsNormEps = rmsNormEps
        self.rope = rope
        self.partialRotaryFactor = partialRotaryFactor ?? architecture.defaultPartialRotaryFactor
        self.tieWordEmbeddings = tieWordEmbeddings
        attentionBias = architecture.queryKeyValueBias.resolve([:])
        outputBias = architecture.outputBias.resolve([:])
        hasQueryKeyNorm = architecture.queryKeyNorm.resolve([:])
        zeroCenteredNorms = architecture.zeroCenteredNorms
        activation = architecture.activation.fallback
        slidingLayers = Array(repeating: false, count: max(0, min(layerCount, Limits.layers)))
        ropeLayers = Array(repeating: true, count: max(0, min(layerCount, Limits.layers)))
        gate = architecture.gatedByDefault ? GateSpec(layout: architecture.gateLayouts[0], granularity: .elementwise) : nil
        self.initializerRange = initializerRange
        json = [:]
    }

    /// Rows of q_proj that are queries (without fused gate rows).
    public var queryRows: Int { headCount * headDim }
    public var keyValueRows: Int { kvHeadCount * headDim }
    public var groupSize: Int { headCount / kvHeadCount }
    /// Rows of the gate per layer: H*d elementwise, H headwise.
    public func gateRows(_ granularity: GateGranularity) -> Int {
        granularity == .elementwise ? headCount * headDim : headCount
    }
    /// Number of dimensions RoPE rotates per head (even).
    public var rotaryDimensions: Int {
        let rotary = Int((Double(headDim) * partialRotaryFactor).rounded(.down))
        return rotary - rotary % 2
    }

    /// What embeddings are multiplied by: Gemma's sqrt(hidden_size) (in
    /// F32, as transformers casts it to the hidden states' type), Granite's
    /// multiplier; nil for 1.
    public var embeddingScale: Float? {
        switch architecture.scalars.embeddingScale {
        case .squareRootOfHiddenSize: Float(Double(hiddenSize).squareRoot())
        case .configKey: embeddingMultiplier
        case nil: nil
        }
    }

    /// What q·k is multiplied by before the softmax.
    public var attentionScale: Float {
        if let attentionMultiplier { return attentionMultiplier }
        if let queryPreAttentionScalar { return Float(1 / queryPreAttentionScalar.squareRoot()) }
        return Float(1 / Double(headDim).squareRoot())
    }

    /// The sliding window of layer `layer`, in keys including the query's
    /// own; nil for full attention.
    public func attentionWindow(layer: Int) -> Int? {
        slidingLayers.indices.contains(layer) && slidingLayers[layer] ? slidingWindow : nil
    }

    /// The RoPE of layer `layer`; nil where the layer applies none.
    public func rope(layer: Int) -> RoPE? {
        guard !ropeLayers.indices.contains(layer) || ropeLayers[layer] else { return nil }
        if let slidingRope, attentionWindow(layer: layer) != nil { return slidingRope }
        return rope
    }

    /// The config's keys as the family reads them (its `text_config` for a wrapper).
    public var hyperparameters: HyperparameterReader { HyperparameterReader(json: json, path: "config.json") }

    /// Whether the source config names `key` (with a non-null value); a
    /// config built in memory names everything. llama.cpp's converter
    /// writes some keys only when the config has them.
    public func declares(_ key: String) -> Bool {
        json.count == 0 || hyperparameters.has(key)
    }

    /// Whether the source config's RoPE settings name `key`.
    func ropeDeclares(_ key: String) -> Bool {
        let reader = hyperparameters
        for container in ["rope_parameters", "rope_scaling"] {
            // A malformed container was refused when the config was read.
            if case .object(let settings)? = reader.object?[container] { return settings[key].map { !$0.isNull } ?? false }
        }
        return false
    }

    /// Limits no real model comes near; a config beyond them is refused
    /// before its numbers size an allocation or a loop.
    public enum Limits {
        public static let dimension = 1 << 20
        public static let heads = 1 << 12
        public static let headDim = 1 << 14
        public static let layers = 1 << 12
        public static let vocabulary = 1 << 26
        public static let context = 1 << 30
        /// Elements of one weight matrix.
        public static let matrixElements = 1 << 40
        public static let experts = 1 << 12
    }

    /// Checks every hyperparameter's range and their relations.
    public func validate(path: String) throws(ModelError) {
        func check(_ key: String, _ value: Int, _ range: ClosedRange<Int>) throws(ModelError) {
            guard range.contains(value) else {
                throw .invalidConfig(path: path, key: key, problem: "\(value) is out of range \(range.lowerBound)...\(range.upperBound)")
            }
        }
        try check("hidden_size", hiddenSize, 1...Limits.dimension)
        try check("intermediate_size", intermediateSize, 1...Limits.dimension)
        try check("num_hidden_layers", layerCount, 1...Limits.layers)
        try check("num_attention_heads", headCount, 1...Limits.heads)
        try check("num_key_value_heads", kvHeadCount, 1...Limits.heads)
        try check("head_dim", headDim, 1...Limits.headDim)
        try check("vocab_size", vocabSize, 1...Limits.vocabulary)
        try check("max_position_embeddings", maxPositionEmbeddings, 1...Limits.context)
        guard headCount % kvHeadCount == 0 else {
            throw .invalidConfig(path: path, key: "num_key_value_heads", problem: "\(kvHeadCount) does not divide num_attention_heads \(headCount)")
        }
        guard headCount * headDim <= Limits.dimension * 4 else {
            throw .invalidConfig(path: path, key: "head_dim", problem: "\(headCount) heads of \(headDim) are out of range")
        }
        guard partialRotaryFactor > 0, partialRotaryFactor <= 1 else {
            throw .invalidConfig(path: path, key: "partial_rotary_factor", problem: "\(partialRotaryFactor) is not in (0, 1]")
        }
        // transformers' int(head_dim * partial_rotary_factor): RoPE rotates pairs, so an
        // odd count would leave one dimension without a partner (rotate_half misaligns).
        let rotary = Int((Double(headDim) * partialRotaryFactor).rounded(.down))
        guard rotary % 2 == 0 else {
            throw .invalidConfig(path: path, key: "partial_rotary_factor", problem: "rotates \(rotary) dimensions of a head of \(headDim); RoPE rotates pairs, so the count must be even")
        }
        guard rotaryDimensions >= 2 || headDim < 2 else {
            throw .invalidConfig(path: path, key: "partial_rotary_factor", problem: "rotates no dimension of a head of \(headDim)")
        }
        guard rmsNormEps.isFinite, rmsNormEps >= 0, rmsNormEps < 1 else {
            throw .invalidConfig(path: path, key: "rms_norm_eps", problem: "\(rmsNormEps) must be in [0, 1)")
        }
        try rope.validate(path: path, key: "rope_parameters", pairs: rotaryDimensions / 2)
        try slidingRope?.validate(path: path, key: "rope_parameters.sliding_attention", pairs: rotaryDimensions / 2)
        for (key, value) in [("embedding_multiplier", embeddingMultiplier), ("residual_multiplier", residualMultiplier),
                             ("attention_multiplier", attentionMultiplier), ("logits_scaling", logitDivisor),
                             ("attn_logit_softcapping", attentionSoftcap), ("final_logit_softcapping", finalLogitSoftcap)] {
            if let value, !(value.isFinite && value > 0) {
                throw .invalidConfig(path: path, key: key, problem: "\(value) must be a positive finite number")
            }
        }
        if let queryPreAttentionScalar, !(queryPreAttentionScalar.isFinite && queryPreAttentionScalar > 0) {
            throw .invalidConfig(path: path, key: "query_pre_attn_scalar", problem: "\(queryPreAttentionScalar) must be a positive finite number")
        }
        guard slidingLayers.count == layerCount, ropeLayers.count == layerCount else {
            throw .invalidConfig(path: path, key: "layer_types", problem: "lists \(slidingLayers.count) layers, the model has \(layerCount)")
        }
        if slidingLayers.contains(true) {
            guard let slidingWindow else {
                throw .invalidConfig(path: path, key: "sliding_window", problem: "missing, though some layers are sliding-window layers")
            }
            try check("sliding_window", slidingWindow, 1...Limits.context)
        }
        if let experts {
            try check("num_experts", experts.count, 1...Limits.experts)
            try check("num_experts_per_tok", experts.perToken, 1...experts.count)
            try check("moe_intermediate_size", experts.intermediateSize, 1...Limits.dimension)
            if let shared = experts.sharedIntermediateSize { try check("shared_expert_intermediate_size", shared, 1...Limits.dimension) }
        }
        guard architecture.isMixtureOfExperts == (experts != nil) else {
            throw .invalidConfig(path: path, key: "num_experts", problem: architecture.isMixtureOfExperts ? "missing for a mixture-of-experts model" : "set for a dense model")
        }
        guard initializerRange.isFinite, initializerRange >= 0 else {
            throw .invalidConfig(path: path, key: "initializer_range", problem: "\(initializerRange) must be a non-negative number")
        }
    }
}
