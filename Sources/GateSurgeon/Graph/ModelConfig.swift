import Platform
import JSON

/// RoPE frequency scaling.
public enum RopeScaling: Sendable, Equatable {
    /// Llama 3.1 style: long wavelengths divided by `factor`, a smooth ramp between.
    case llama3(factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalContext: Int)
    /// Positions divided by `factor`.
    case linear(factor: Double)
}

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
            "architecture '\(name)' is not one gatesurgeon models (\(ModelFamily.supportedNames))"
        }
    }

    public var description: String { "\(path): \(problem)" }
}

/// A decoder's hyperparameters, from a transformers config.json or GGUF
/// metadata, checked for range before anything indexes, allocates or
/// loops with them (`validate`).
public struct ModelConfig: Sendable {
    public var family: ModelFamily
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDim: Int
    public var vocabSize: Int
    public var maxPositionEmbeddings: Int
    public var rmsNormEps: Double
    public var ropeTheta: Double
    public var ropeScaling: RopeScaling?
    /// Fraction of each head's dimensions that RoPE rotates.
    public var partialRotaryFactor: Double
    public var tieWordEmbeddings: Bool
    /// q/k/v projections carry biases.
    public var attentionBias: Bool
    /// o_proj carries a bias.
    public var outputBias: Bool
    /// q_norm / k_norm RMSNorms on each head.
    public var hasQueryKeyNorm: Bool
    /// RMSNorm weights stored as w - 1, applied as 1 + w (Qwen3.5).
    public var zeroCenteredNorms: Bool
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

    /// What gatesurgeon knows about the family.
    public var architecture: Architecture { family.architecture }

    /// A config built in memory; the family's rules set biases, q/k norms
    /// and norm centring, which callers may change afterwards.
    public init(
        family: ModelFamily, hiddenSize: Int, intermediateSize: Int, layerCount: Int, headCount: Int, kvHeadCount: Int,
        headDim: Int, vocabSize: Int, maxPositionEmbeddings: Int = 4096, rmsNormEps: Double = 1e-6, ropeTheta: Double = 10000,
        ropeScaling: RopeScaling? = nil, partialRotaryFactor: Double? = nil, tieWordEmbeddings: Bool = false,
        initializerRange: Double = 0.02
    ) {
        let architecture = family.architecture
        self.family = family
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.headDim = headDim
        self.vocabSize = vocabSize
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.ropeScaling = ropeScaling
        self.partialRotaryFactor = partialRotaryFactor ?? architecture.defaultPartialRotaryFactor
        self.tieWordEmbeddings = tieWordEmbeddings
        attentionBias = architecture.queryKeyValueBias.resolve([:])
        outputBias = architecture.outputBias.resolve([:])
        hasQueryKeyNorm = architecture.queryKeyNorm.resolve([:])
        zeroCenteredNorms = architecture.zeroCenteredNorms
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
        guard ropeTheta.isFinite, ropeTheta > 1 else {
            throw .invalidConfig(path: path, key: "rope_theta", problem: "\(ropeTheta) must be a finite number above 1")
        }
        guard rmsNormEps.isFinite, rmsNormEps >= 0, rmsNormEps < 1 else {
            throw .invalidConfig(path: path, key: "rms_norm_eps", problem: "\(rmsNormEps) must be in [0, 1)")
        }
        switch ropeScaling {
        case .llama3(let factor, let low, let high, let original):
            guard factor.isFinite, factor >= 1, factor <= 1024, low.isFinite, high.isFinite, low > 0, high > low,
                (1...Limits.context).contains(original)
            else {
                throw .invalidConfig(path: path, key: "rope_scaling", problem: "llama3 factor \(factor), low \(low), high \(high), original context \(original) are out of range")
            }
        case .linear(let factor):
            guard factor.isFinite, factor > 0, factor <= 1024 else {
                throw .invalidConfig(path: path, key: "rope_scaling", problem: "linear factor \(factor) is out of range")
            }
        case nil:
            break
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

extension ModelConfig {
    /// Reads a transformers config.json (a nested `text_config` is used for
    /// multimodal wrappers), with the family's rules from its `Architecture`.
    public init(transformersConfig root: JSONObject, path: String) throws {
        var object = root
        if case .object(let text) = root["text_config"] ?? .null, root["hidden_size"] == nil {
            object = text
        }
        func int(_ key: String) throws(ModelError) -> Int {
            guard let value = object[key]?.intValue else {
                throw ModelError.invalidConfig(path: path, key: key, problem: "missing or not an integer")
            }
            return try Self.bounded(value, key: key, path: path)
        }
        func optionalInt(_ key: String) throws(ModelError) -> Int? {
            guard let value = object[key], !value.isNull else { return nil }
            guard let number = value.intValue else {
                throw ModelError.invalidConfig(path: path, key: key, problem: "not an integer")
            }
            return try Self.bounded(number, key: key, path: path)
        }
        func double(_ key: String, in object: JSONObject?) throws(ModelError) -> Double? {
            guard let value = object?[key], !value.isNull else { return nil }
            guard let number = value.doubleValue, number.isFinite else {
                throw ModelError.invalidConfig(path: path, key: key, problem: "not a finite number")
            }
            return number
        }
        let modelType = object["model_type"]?.stringValue ?? ""
        let classes = (root["architectures"]?.arrayValue ?? []).compactMap(\.stringValue)
        if modelType == "qwen3_next" {
            throw ModelError.unsupportedModel(path: path, problem: "Qwen3-Next models mix linear and full attention; only full-attention decoders are supported")
        }
        guard let architecture = Architecture.matching(modelType: modelType, classes: classes) else {
            throw ModelError.unknownArchitecture(path: path, name: modelType.isEmpty ? (classes.first ?? "(no model_type)") : modelType)
        }
        let heads = try int("num_attention_heads")
        let hidden = try int("hidden_size")
        var experts: ExpertConfig?
        if let layout = architecture.expertLayout {
            guard let count = try optionalInt("num_local_experts") ?? optionalInt("num_experts") else {
                throw ModelError.invalidConfig(path: path, key: "num_experts", problem: "missing for a mixture-of-experts model")
            }
            experts = ExpertConfig(
                count: count, perToken: try int("num_experts_per_tok"), intermediateSize: try int(layout.expertSizeKey),
                normalizesTopK: layout.normalizesTopK.resolve(object),
                sharedIntermediateSize: layout.hasSharedExpert ? try int("shared_expert_intermediate_size") : nil)
            if let step = try optionalInt("decoder_sparse_step"), step != 1 {
                throw ModelError.unsupportedModel(path: path, problem: "decoder_sparse_step \(step) mixes dense and expert layers; only models with experts in every layer are supported")
            }
            if let dense = object["mlp_only_layers"]?.arrayValue, !dense.isEmpty {
                throw ModelError.unsupportedModel(path: path, problem: "mlp_only_layers lists dense layers; only models with experts in every layer are supported")
            }
        }
        let headDim: Int
        if let explicit = try optionalInt("head_dim") {
            headDim = explicit
        } else {
            guard hidden % heads == 0 else {
                throw ModelError.invalidConfig(path: path, key: "head_dim", problem: "missing, and hidden_size is not a multiple of num_attention_heads")
            }
            headDim = hidden / heads
        }
        // transformers 5 moved RoPE settings into `rope_parameters`.
        let ropeParameters = object["rope_parameters"]?.objectValue
        self.init(
            family: architecture.family, hiddenSize: hidden,
            intermediateSize: try optionalInt("intermediate_size") ?? experts?.intermediateSize ?? int("intermediate_size"),
            layerCount: try int("num_hidden_layers"), headCount: heads, kvHeadCount: try optionalInt("num_key_value_heads") ?? heads,
            headDim: headDim, vocabSize: try int("vocab_size"), maxPositionEmbeddings: try optionalInt("max_position_embeddings") ?? 4096,
            rmsNormEps: try double("rms_norm_eps", in: object) ?? 1e-6,
            ropeTheta: try double("rope_theta", in: object) ?? double("rope_theta", in: ropeParameters) ?? 10000,
            ropeScaling: try ModelConfig.ropeScaling(from: object["rope_scaling"]?.objectValue ?? ropeParameters, path: path),
            partialRotaryFactor: try double("partial_rotary_factor", in: object) ?? double("partial_rotary_factor", in: ropeParameters),
            tieWordEmbeddings: object["tie_word_embeddings"]?.boolValue ?? root["tie_word_embeddings"]?.boolValue ?? false,
            initializerRange: try double("initializer_range", in: object) ?? 0.02)
        attentionBias = architecture.queryKeyValueBias.resolve(object)
        outputBias = architecture.outputBias.resolve(object)
        hasQueryKeyNorm = architecture.queryKeyNorm.resolve(object)
        self.experts = experts
        json = root

        if object["elementwise_attn_output_gate"]?.boolValue == true {
            gate = GateSpec(layout: .gatedAttention, granularity: .elementwise)
        } else if object["headwise_attn_output_gate"]?.boolValue == true {
            gate = GateSpec(layout: .gatedAttention, granularity: .headwise)
        } else if let declared = object["attn_output_gate"]?.boolValue {
            gate = declared ? GateSpec(layout: .qwen3Next, granularity: .elementwise) : nil
        }
        if let types = object["layer_types"]?.arrayValue, types.contains(where: { $0.stringValue != "full_attention" }) {
            throw ModelError.unsupportedModel(path: path, problem: "layer_types lists layers other than full attention (linear or sliding attention); only full-attention layers are supported")
        }
        try validate(path: path)
    }

    /// An integer from a file, checked to be positive and far from overflow.
    static func bounded(_ value: Int64, key: String, path: String) throws(ModelError) -> Int {
        guard value > 0 && value <= 1 << 40 else {
            throw ModelError.invalidConfig(path: path, key: key, problem: "\(value) is out of range")
        }
        return Int(value)
    }

    static func ropeScaling(from object: JSONObject?, path: String) throws -> RopeScaling? {
        guard let object else { return nil }
        let type = object["rope_type"]?.stringValue ?? object["type"]?.stringValue ?? "default"
        // A key that is present must hold a finite number.
        func number(_ key: String, default fallback: Double? = nil) throws -> Double {
            guard let value = object[key], !value.isNull else {
                guard let fallback else {
                    throw ModelError.invalidConfig(path: path, key: "rope_scaling", problem: "\(type) scaling needs \(key)")
                }
                return fallback
            }
            guard let number = value.doubleValue, number.isFinite else {
                throw ModelError.invalidConfig(path: path, key: "rope_scaling", problem: "\(key) must be a finite number, not \(value.serialized())")
            }
            return number
        }
        switch type {
        case "default": return nil
        case "llama3":
            let original = try number("original_max_position_embeddings")
            guard original >= 1, original <= Double(Limits.context), original.rounded() == original else {
                throw ModelError.invalidConfig(path: path, key: "rope_scaling", problem: "original_max_position_embeddings \(original) is out of range")
            }
            return .llama3(
                factor: try number("factor"), lowFrequencyFactor: try number("low_freq_factor", default: 1),
                highFrequencyFactor: try number("high_freq_factor", default: 4), originalContext: Int(original))
        case "linear":
            return .linear(factor: try number("factor"))
        default:
            throw ModelError.invalidConfig(path: path, key: "rope_scaling", problem: "rope type '\(type)' is not supported (default, linear, llama3 are)")
        }
    }

    /// The inverse frequencies RoPE uses for each rotated pair, with any
    /// scaling applied, as transformers computes them (in Double, then F32).
    public func ropeInverseFrequencies() -> [Float] {
        let dimensions = rotaryDimensions
        var result: [Float] = []
        for index in stride(from: 0, to: dimensions, by: 2) {
            // transformers: 1 / base ** (arange(0, dim, 2).float() / dim), in F32.
            let exponent = Float(index) / Float(dimensions)
            var frequency = 1 / powf(Float(ropeTheta), exponent)
            switch ropeScaling {
            case .llama3(let factor, let low, let high, let original):
                let lowWavelength = Float(Double(original) / low)
                let highWavelength = Float(Double(original) / high)
                let wavelength = 2 * Float.pi / frequency
                if wavelength > lowWavelength {
                    frequency /= Float(factor)
                } else if wavelength >= highWavelength {
                    let smooth = (Float(Double(original)) / wavelength - Float(low)) / Float(high - low)
                    frequency = (1 - smooth) * frequency / Float(factor) + smooth * frequency
                }
            case .linear, nil:
                break
            }
            result.append(frequency)
        }
        return result
    }

    /// The per-frequency divisors llama.cpp's converter stores as
    /// `rope_freqs.weight` for Llama 3 scaling, computed in F32 as it does.
    public func llama3RopeFactors() -> [Float] {
        guard case .llama3(let factor, let low, let high, let original) = ropeScaling else { return [] }
        let dimensions = headDim
        let lowWavelength = Double(original) / low
        let highWavelength = Double(original) / high
        var factors: [Float] = []
        for index in stride(from: 0, to: dimensions, by: 2) {
            let frequency = 1 / powf(Float(ropeTheta), Float(index) / Float(dimensions))
            let wavelength = Float(2 * Double.pi) / frequency
            if wavelength < Float(highWavelength) {
                factors.append(1)
            } else if wavelength > Float(lowWavelength) {
                factors.append(Float(factor))
            } else {
                let smooth = (Float(original) / wavelength - Float(low)) / Float(high - low)
                factors.append(1 / ((1 - smooth) / Float(factor) + smooth))
            }
        }
        return factors
    }

    /// Llama 3 scaling parameters that reproduce `factors` (llama.cpp's
    /// `rope_freqs.weight`) exactly, so a GGUF file converted to
    /// safetensors gets a config.json transformers computes the same RoPE
    /// from. Tries Llama 3's frequency factors (1, 4) with power-of-two
    /// original context lengths; nil when none reproduces the tensor.
    public func llama3Scaling(reproducing factors: [Float]) -> RopeScaling? {
        guard let factor = factors.max(), factor >= 1 else { return nil }
        var candidate = self
        var original = 16
        while original <= max(16, maxPositionEmbeddings) {
            candidate.ropeScaling = .llama3(factor: Double(factor), lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContext: original)
            if candidate.llama3RopeFactors() == factors { return candidate.ropeScaling }
            original *= 2
        }
        return nil
    }
}

/// A transformers config.json for these hyperparameters.
extension ModelConfig {
    /// The config as read when there is one, with the keys gatesurgeon
    /// knows set from the current values.
    public func transformersConfig() -> JSONObject {
        var object = json
        object["architectures"] = .array([.string(architecture.transformersClass)])
        object["model_type"] = .string(architecture.modelTypes[0])
        object["hidden_size"] = .int(Int64(hiddenSize))
        object["intermediate_size"] = .int(Int64(intermediateSize))
        object["num_hidden_layers"] = .int(Int64(layerCount))
        object["num_attention_heads"] = .int(Int64(headCount))
        object["num_key_value_heads"] = .int(Int64(kvHeadCount))
        object["head_dim"] = .int(Int64(headDim))
        object["vocab_size"] = .int(Int64(vocabSize))
        object["max_position_embeddings"] = .int(Int64(maxPositionEmbeddings))
        object["rms_norm_eps"] = .double(rmsNormEps)
        object["tie_word_embeddings"] = .bool(tieWordEmbeddings)
        let partialRotary = partialRotaryFactor != 1 || architecture.defaultPartialRotaryFactor != 1
        if var rope = object["rope_parameters"]?.objectValue ?? (partialRotary && ropeScaling == nil ? JSONObject() : nil) {
            // transformers 5: every RoPE setting in `rope_parameters`.
            if rope["rope_type"] == nil { rope["rope_type"] = .string("default") }
            rope["rope_theta"] = .double(ropeTheta)
            if partialRotary { rope["partial_rotary_factor"] = .double(partialRotaryFactor) }
            object["rope_parameters"] = .object(JSONObject(rope.keys.sorted().map { ($0, rope[$0]!) }))
        } else {
            object["rope_theta"] = .double(ropeTheta)
            if object["rope_scaling"] == nil {
                switch ropeScaling {
                case .llama3(let factor, let low, let high, let original):
                    object["rope_scaling"] = .object([
                        "rope_type": .string("llama3"), "factor": .double(factor), "low_freq_factor": .double(low),
                        "high_freq_factor": .double(high), "original_max_position_embeddings": .int(Int64(original)),
                    ])
                case .linear(let factor):
                    object["rope_scaling"] = .object(["rope_type": .string("linear"), "factor": .double(factor)])
                case nil:
                    break
                }
            }
        }
        if architecture.gatedByDefault {
            // Qwen3.5: the gate is the family's own; every layer is full attention here.
            object["attn_output_gate"] = .bool(gate != nil)
            object["layer_types"] = .array(Array(repeating: .string("full_attention"), count: layerCount))
        }
        if case .configKey(let keys, _) = architecture.queryKeyValueBias, keys.contains("attention_bias") {
            object["attention_bias"] = .bool(attentionBias)
        }
        if let experts, let layout = architecture.expertLayout {
            if layout.expertSizeKey != "intermediate_size" && json["intermediate_size"] == nil {
                // Every layer is experts: no dense size to record.
                object["intermediate_size"] = nil
            }
            object[layout.expertCountKey] = .int(Int64(experts.count))
            object["num_experts_per_tok"] = .int(Int64(experts.perToken))
            object[layout.expertSizeKey] = .int(Int64(experts.intermediateSize))
            if case .configKey(let keys, _) = layout.normalizesTopK, let key = keys.first {
                object[key] = .bool(experts.normalizesTopK)
            }
            if let shared = experts.sharedIntermediateSize {
                object["shared_expert_intermediate_size"] = .int(Int64(shared))
            }
        }
        return object
    }
}
