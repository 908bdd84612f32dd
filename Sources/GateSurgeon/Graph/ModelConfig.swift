import Platform

import JSON

/// The decoder families gatesurgeon understands.
public enum ModelFamily: String, Sendable, CaseIterable {
    case llama
    case mistral
    case qwen2
    case qwen3
    /// Qwen3.5 text model (transformers `Qwen3_5ForCausalLM`), all layers
    /// full attention: the native home of the qwen3-next gate layout.
    case qwen3_5 = "qwen3_5_text"

    /// The transformers class name written to `architectures`.
    public var transformersClass: String {
        switch self {
        case .llama: "LlamaForCausalLM"
        case .mistral: "MistralForCausalLM"
        case .qwen2: "Qwen2ForCausalLM"
        case .qwen3: "Qwen3ForCausalLM"
        case .qwen3_5: "Qwen3_5ForCausalLM"
        }
    }

    /// The `general.architecture` llama.cpp uses.
    public var ggufArchitecture: String {
        switch self {
        case .llama, .mistral: "llama"
        case .qwen2: "qwen2"
        case .qwen3: "qwen3"
        case .qwen3_5: "qwen35"
        }
    }

    /// The families, for messages.
    public static var supportedNames: String { "Llama, Mistral, Qwen2, Qwen3 and Qwen3.5 text models are" }

    /// Whether llama.cpp's converter permutes q/k rows for this family
    /// (Llama-style interleaved RoPE; Qwen uses the NeoX layout and does not).
    public var permutesQueryKeyRows: Bool { self == .llama || self == .mistral }
}

/// Where the gate's weights live; see the README's "Gate layouts".
public enum GateLayout: String, Sendable, CaseIterable {
    /// The paper's official code: gate rows fused into q_proj, grouped per KV group.
    case gatedAttention = "gated-attention"
    /// Qwen3-Next / Qwen3.5: gate rows interleaved per head inside q_proj.
    case qwen3Next = "qwen3-next"
    /// One new tensor per layer (`self_attn.gate_proj` / `g_proj`, `blk.N.attn_gate`).
    case separate
}

/// One gate value per head dimension, or one per head.
public enum GateGranularity: String, Sendable, CaseIterable {
    case elementwise
    case headwise
}

/// The gate a model has.
public struct GateSpec: Sendable, Equatable {
    public var layout: GateLayout
    public var granularity: GateGranularity
    /// Gated layers; nil means every layer.
    public var layers: Set<Int>?

    public init(layout: GateLayout, granularity: GateGranularity, layers: Set<Int>? = nil) {
        self.layout = layout
        self.granularity = granularity
        self.layers = layers
    }

    public func gates(layer: Int) -> Bool { layers?.contains(layer) ?? true }
}

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

/// A decoder's hyperparameters, from a transformers config.json or GGUF metadata.
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
    /// q/k/v projections carry biases (Qwen2).
    public var attentionBias: Bool
    /// o_proj carries a bias (Llama with attention_bias).
    public var outputBias: Bool
    /// q_norm / k_norm RMSNorms on each head (Qwen3).
    public var hasQueryKeyNorm: Bool
    /// RMSNorm weights stored as w - 1, applied as 1 + w (Qwen3.5).
    public var zeroCenteredNorms: Bool
    public var gate: GateSpec?
    public var initializerRange: Double
    /// The config as read, for keys gatesurgeon passes through untouched.
    public var json: JSONObject

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
}

extension ModelConfig {
    /// Reads a transformers config.json (a nested `text_config` is used for
    /// multimodal wrappers).
    public init(transformersConfig root: JSONObject, path: String) throws {
        var object = root
        if case .object(let text) = root["text_config"] ?? .null, root["hidden_size"] == nil {
            object = text
        }
        func int(_ key: String) throws -> Int {
            guard let value = object[key]?.intValue else {
                throw ModelError.invalidConfig(path: path, key: key, problem: "missing or not an integer")
            }
            guard value > 0 && value < 1 << 40 else {
                throw ModelError.invalidConfig(path: path, key: key, problem: "\(value) is out of range")
            }
            return Int(value)
        }
        let modelType = object["model_type"]?.stringValue ?? ""
        let architectures = (root["architectures"]?.arrayValue ?? []).compactMap(\.stringValue)
        switch modelType {
        case "llama": family = .llama
        case "mistral": family = .mistral
        case "qwen2": family = .qwen2
        case "qwen3": family = .qwen3
        case "qwen3_5_text", "qwen3_5": family = .qwen3_5
        case "qwen3_next":
            throw ModelError.unsupportedModel(path: path, problem: "Qwen3-Next models mix linear and full attention; only full-attention decoders are supported")
        default:
            if let known = architectures.lazy.compactMap({ name in ModelFamily.allCases.first { $0.transformersClass == name } }).first {
                family = known
            } else {
                throw ModelError.unknownArchitecture(path: path, name: modelType.isEmpty ? (architectures.first ?? "(no model_type)") : modelType)
            }
        }
        hiddenSize = try int("hidden_size")
        intermediateSize = try int("intermediate_size")
        layerCount = try int("num_hidden_layers")
        headCount = try int("num_attention_heads")
        kvHeadCount = object["num_key_value_heads"]?.intValue.map(Int.init) ?? headCount
        guard kvHeadCount > 0, headCount % kvHeadCount == 0 else {
            throw ModelError.invalidConfig(path: path, key: "num_key_value_heads", problem: "\(kvHeadCount) does not divide num_attention_heads \(headCount)")
        }
        if let explicit = object["head_dim"]?.intValue {
            headDim = Int(explicit)
        } else {
            guard hiddenSize % headCount == 0 else {
                throw ModelError.invalidConfig(path: path, key: "head_dim", problem: "missing, and hidden_size is not a multiple of num_attention_heads")
            }
            headDim = hiddenSize / headCount
        }
        vocabSize = try int("vocab_size")
        maxPositionEmbeddings = object["max_position_embeddings"]?.intValue.map(Int.init) ?? 4096
        rmsNormEps = object["rms_norm_eps"]?.doubleValue ?? 1e-6
        // transformers 5 moved RoPE settings into `rope_parameters`.
        let ropeParameters = object["rope_parameters"]?.objectValue
        ropeTheta = object["rope_theta"]?.doubleValue ?? ropeParameters?["rope_theta"]?.doubleValue ?? 10000
        partialRotaryFactor = object["partial_rotary_factor"]?.doubleValue
            ?? ropeParameters?["partial_rotary_factor"]?.doubleValue
            ?? (family == .qwen3_5 ? 0.25 : 1.0)
        ropeScaling = try ModelConfig.ropeScaling(from: object["rope_scaling"]?.objectValue ?? ropeParameters, path: path)
        tieWordEmbeddings = object["tie_word_embeddings"]?.boolValue ?? root["tie_word_embeddings"]?.boolValue ?? false
        let bias = object["attention_bias"]?.boolValue ?? object["qkv_bias"]?.boolValue
        attentionBias = family == .qwen2 ? true : (bias ?? false)
        outputBias = family == .llama && (object["attention_bias"]?.boolValue ?? false)
        hasQueryKeyNorm = family == .qwen3 || family == .qwen3_5
        zeroCenteredNorms = family == .qwen3_5
        initializerRange = object["initializer_range"]?.doubleValue ?? 0.02
        json = root

        if object["elementwise_attn_output_gate"]?.boolValue == true {
            gate = GateSpec(layout: .gatedAttention, granularity: .elementwise)
        } else if object["headwise_attn_output_gate"]?.boolValue == true {
            gate = GateSpec(layout: .gatedAttention, granularity: .headwise)
        } else if family == .qwen3_5 && object["attn_output_gate"]?.boolValue != false {
            gate = GateSpec(layout: .qwen3Next, granularity: .elementwise)
        } else if object["attn_output_gate"]?.boolValue == true {
            gate = GateSpec(layout: .qwen3Next, granularity: .elementwise)
        }
        if family == .qwen3_5, let types = object["layer_types"]?.arrayValue,
            types.contains(where: { $0.stringValue != "full_attention" })
        {
            throw ModelError.unsupportedModel(path: path, problem: "layer_types lists linear-attention layers; only full-attention Qwen3.5 models are supported")
        }
    }

    static func ropeScaling(from object: JSONObject?, path: String) throws -> RopeScaling? {
        guard let object else { return nil }
        let type = object["rope_type"]?.stringValue ?? object["type"]?.stringValue ?? "default"
        switch type {
        case "default": return nil
        case "llama3":
            guard let factor = object["factor"]?.doubleValue,
                let original = object["original_max_position_embeddings"]?.intValue
            else {
                throw ModelError.invalidConfig(path: path, key: "rope_scaling", problem: "llama3 scaling needs factor and original_max_position_embeddings")
            }
            return .llama3(
                factor: factor, lowFrequencyFactor: object["low_freq_factor"]?.doubleValue ?? 1,
                highFrequencyFactor: object["high_freq_factor"]?.doubleValue ?? 4, originalContext: Int(original))
        case "linear":
            return .linear(factor: object["factor"]?.doubleValue ?? 1)
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
