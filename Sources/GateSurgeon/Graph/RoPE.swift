import Platform
import JSON

/// Rotary position embeddings: the base, an optional frequency scaling, and
/// everything derived from them. The one owner of RoPE settings: parsing
/// both config.json dialects (transformers 5's `rope_parameters`, also
/// nested per layer type, and 4.x's `rope_theta` + `rope_scaling`),
/// validation, the inverse frequencies and cos/sin scale transformers
/// computes (`modeling_rope_utils.py`), and llama.cpp's encoding (GGUF keys
/// and the `rope_freqs` / `rope_factors_*` tensors).
public struct RoPE: Sendable, Hashable {
    /// The wavelength base (`rope_theta`).
    public var theta: Double
    /// Frequency scaling; nil for plain RoPE.
    public var scaling: Scaling?

    public init(theta: Double, scaling: Scaling? = nil) {
        self.theta = theta
        self.scaling = scaling
    }

    /// The frequency scalings gatesurgeon computes as transformers does.
    public enum Scaling: Sendable, Hashable {
        /// Positions divided by `factor` (`linear`).
        case linear(factor: Double)
        /// Llama 3.1: long wavelengths divided by `factor`, a smooth ramp between.
        case llama3(factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalContext: Int)
        /// YaRN: interpolation blended with extrapolation per frequency, cos/sin scaled.
        case yarn(YaRN)
        /// LongRoPE (Phi-3): per-frequency divisors, the long set past the
        /// original context; cos/sin scaled by `attentionFactor`.
        case longRoPE(LongRoPE)

        /// transformers' `rope_type`.
        public var typeName: String {
            switch self {
            case .linear: "linear"
            case .llama3: "llama3"
            case .yarn: "yarn"
            case .longRoPE: "longrope"
            }
        }
    }

    /// YaRN's parameters (`_compute_yarn_parameters`).
    public struct YaRN: Sendable, Hashable {
        public var factor: Double
        public var originalContext: Int
        public var betaFast: Double = 32
        public var betaSlow: Double = 1
        /// cos/sin scale; nil: `0.1 * ln(factor) + 1` (or the mscale ratio).
        public var attentionFactor: Double?
        public var mscale: Double?
        public var mscaleAllDim: Double?
        public var truncate = true

        public init(factor: Double, originalContext: Int) {
            self.factor = factor
            self.originalContext = originalContext
        }
    }

    /// LongRoPE's parameters (`_compute_longrope_parameters`).
    public struct LongRoPE: Sendable, Hashable {
        /// One divisor per rotated pair, used up to the original context.
        public var shortFactors: [Double]
        /// One divisor per rotated pair, used past the original context.
        public var longFactors: [Double]
        public var originalContext: Int
        /// `factor`; nil: max_position_embeddings / originalContext.
        public var factor: Double?
        /// cos/sin scale; nil: `sqrt(1 + ln(factor) / ln(originalContext))` when factor > 1.
        public var attentionFactor: Double?

        public init(shortFactors: [Double], longFactors: [Double], originalContext: Int, factor: Double? = nil, attentionFactor: Double? = nil) {
            self.shortFactors = shortFactors
            self.longFactors = longFactors
            self.originalContext = originalContext
            self.factor = factor
            self.attentionFactor = attentionFactor
        }
    }
}

// MARK: - Frequencies

extension RoPE {
    /// Whether the scaling is Llama 3's.
    public var isLlama3: Bool {
        if case .llama3 = scaling { return true }
        return false
    }

    /// The inverse frequency of each rotated pair for a sequence of
    /// `sequenceLength` tokens, as transformers computes it in F32.
    /// - Parameter dimensions: rotated dimensions of a head (even).
    /// - Complexity: O(dimensions).
    public func inverseFrequencies(dimensions: Int, sequenceLength: Int, maxPositionEmbeddings: Int) -> [Float] {
        let pairs = dimensions / 2
        // 1 / base ** (arange(0, dim, 2).float() / dim), in F32.
        let plain: [Float] = (0..<pairs).map { pair in
            1 / powf(Float(theta), Float(2 * pair) / Float(dimensions))
        }
        switch scaling {
        case nil:
            return plain
        case .linear(let factor):
            return plain.map { $0 / Float(factor) }
        case .llama3(let factor, let low, let high, let original):
            let lowWavelength = Float(Double(original) / low)
            let highWavelength = Float(Double(original) / high)
            return plain.map { base in
                let wavelength = 2 * Float.pi / base
                var frequency = wavelength > lowWavelength ? base / Float(factor) : base
                if !(wavelength < highWavelength) && !(wavelength > lowWavelength) {
                    let smooth = (Float(Double(original)) / wavelength - Float(low)) / Float(high - low)
                    frequency = (1 - smooth) * frequency / Float(factor) + smooth * frequency
                }
                return frequency
            }
        case .yarn(let yarn):
            let dim = Double(dimensions)
            func correctionDimension(_ rotations: Double) -> Double {
                (dim * log(Double(yarn.originalContext) / (rotations * 2 * Double.pi))) / (2 * log(theta))
            }
            var low = correctionDimension(yarn.betaFast), high = correctionDimension(yarn.betaSlow)
            if yarn.truncate {
                low = low.rounded(.down)
                high = high.rounded(.up)
            }
            low = max(low, 0)
            high = min(high, dim - 1)
            if low == high { high += 0.001 }
            return (0..<pairs).map { pair in
                let positionFrequency = powf(Float(theta), Float(2 * pair) / Float(dimensions))
                let extrapolation = 1 / positionFrequency
                let interpolation = 1 / (Float(yarn.factor) * positionFrequency)
                let ramp = min(max((Float(pair) - Float(low)) / (Float(high) - Float(low)), 0), 1)
                let extrapolationFactor = 1 - ramp
                return interpolation * (1 - extrapolationFactor) + extrapolation * extrapolationFactor
            }
        case .longRoPE(let long):
            let factors = sequenceLength > long.originalContext ? long.longFactors : long.shortFactors
            return (0..<pairs).map { pair in
                let shape = Float(2 * pair) / Float(dimensions)
                return 1 / (Float(factors[pair]) * powf(Float(theta), shape))
            }
        }
    }

    /// What cos and sin are multiplied by (transformers' `attention_scaling`).
    public func attentionFactor(maxPositionEmbeddings: Int) -> Float {
        switch scaling {
        case .yarn(let yarn):
            if let explicit = yarn.attentionFactor { return Float(explicit) }
            func mscale(_ scale: Double, _ m: Double = 1) -> Double { scale <= 1 ? 1 : 0.1 * m * log(scale) + 1 }
            if let m = yarn.mscale, let all = yarn.mscaleAllDim, m != 0, all != 0 {
                return Float(mscale(yarn.factor, m) / mscale(yarn.factor, all))
            }
            return Float(mscale(yarn.factor))
        case .longRoPE(let long):
            if let explicit = long.attentionFactor { return Float(explicit) }
            let factor = long.factor ?? Double(maxPositionEmbeddings) / Double(long.originalContext)
            return factor <= 1 ? 1 : Float((1 + log(factor) / log(Double(long.originalContext))).squareRoot())
        case .linear, .llama3, nil:
            return 1
        }
    }

    /// The per-frequency divisors llama.cpp's converter stores as
    /// `rope_freqs.weight` for Llama 3 scaling, computed in F32 as it does
    /// (over the whole head, `dimensions` = head size). Empty otherwise.
    public func llama3Factors(dimensions: Int) -> [Float] {
        guard case .llama3(let factor, let low, let high, let original) = scaling else { return [] }
        let lowWavelength = Double(original) / low
        let highWavelength = Double(original) / high
        var factors: [Float] = []
        for index in stride(from: 0, to: dimensions, by: 2) {
            let frequency = 1 / powf(Float(theta), Float(index) / Float(dimensions))
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

    /// Llama 3 scaling that reproduces `factors` (llama.cpp's
    /// `rope_freqs.weight`) exactly, so a GGUF file converted to safetensors
    /// gets a config transformers computes the same RoPE from: Llama 3's
    /// frequency factors (1, 4) with power-of-two original contexts up to
    /// `maxContext`; nil when none reproduces the tensor.
    public func llama3Scaling(reproducing factors: [Float], dimensions: Int, maxContext: Int) -> Scaling? {
        guard let factor = factors.max(), factor >= 1 else { return nil }
        var candidate = self
        var original = 16
        while original <= max(16, maxContext) {
            candidate.scaling = .llama3(factor: Double(factor), lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContext: original)
            if candidate.llama3Factors(dimensions: dimensions) == factors { return candidate.scaling }
            original *= 2
        }
        return nil
    }
}

// MARK: - Validation

extension RoPE {
    /// Checks every value's range; `key` names the settings in messages.
    /// - Parameter pairs: rotated pairs per head (LongRoPE has a factor per pair).
    func validate(path: String, key: String, pairs: Int) throws(ModelError) {
        func fail(_ problem: String) -> ModelError { .invalidConfig(path: path, key: key, problem: problem) }
        guard theta.isFinite, theta > 1 else { throw fail("rope_theta \(theta) must be a finite number above 1") }
        switch scaling {
        case nil:
            break
        case .linear(let factor):
            guard factor.isFinite, factor > 0, factor <= 1024 else { throw fail("linear factor \(factor) is out of range") }
        case .llama3(let factor, let low, let high, let original):
            guard factor.isFinite, factor >= 1, factor <= 1024, low.isFinite, high.isFinite, low > 0, high > low,
                (1...ModelConfig.Limits.context).contains(original)
            else {
                throw fail("llama3 factor \(factor), low \(low), high \(high), original context \(original) are out of range")
            }
        case .yarn(let yarn):
            guard yarn.factor.isFinite, yarn.factor > 0, yarn.factor <= 1024, (1...ModelConfig.Limits.context).contains(yarn.originalContext),
                yarn.betaFast.isFinite, yarn.betaSlow.isFinite, yarn.betaFast > 0, yarn.betaSlow > 0,
                (yarn.attentionFactor.map { $0.isFinite && $0 > 0 } ?? true)
            else {
                throw fail("yarn factor \(yarn.factor), original context \(yarn.originalContext), beta \(yarn.betaFast)/\(yarn.betaSlow) are out of range")
            }
        case .longRoPE(let long):
            guard long.shortFactors.count == pairs, long.longFactors.count == pairs else {
                throw fail("longrope has \(long.shortFactors.count) short and \(long.longFactors.count) long factors for \(pairs) rotated pairs")
            }
            guard (long.shortFactors + long.longFactors).allSatisfy({ $0.isFinite && $0 > 0 }),
                (1...ModelConfig.Limits.context).contains(long.originalContext),
                long.factor.map({ $0.isFinite && $0 > 0 }) ?? true, long.attentionFactor.map({ $0.isFinite && $0 > 0 }) ?? true
            else {
                throw fail("longrope factors and original context must be positive finite numbers")
            }
        }
    }
}

// MARK: - config.json

extension RoPE {
    /// The RoPE of a config's layers of `layerType` (`full_attention` or
    /// `sliding_attention`), in either dialect:
    /// - transformers 5: `rope_parameters`, flat or nested per layer type;
    /// - transformers 4: `rope_theta` (or `legacyThetaKey` for this layer
    ///   type, Gemma 3's `rope_local_base_freq`) and `rope_scaling`, which
    ///   `legacyScalesThisType` says whether to apply.
    /// Phi-3's top-level `original_max_position_embeddings` wins over the
    /// scaling's own, as in transformers.
    /// - Parameter defaultTheta: the base when the config names none.
    static func parse(
        _ config: HyperparameterReader, layerType: String = "full_attention", legacyThetaKey: String? = nil,
        legacyScalesThisType: Bool = true, defaultTheta: Double = 10000, maxPositionEmbeddings: Int
    ) throws(ModelError) -> RoPE {
        var parameters = try config.nested("rope_parameters")
        if let nested = try parameters?.nested(layerType) {
            parameters = nested
        }
        let legacy = try config.nested("rope_scaling")
        var theta = try parameters?.optionalDouble("rope_theta")
        if theta == nil, let legacyThetaKey { theta = try config.optionalDouble(legacyThetaKey) }
        if theta == nil { theta = try config.optionalDouble("rope_theta") }
        var rope = RoPE(theta: theta ?? defaultTheta)
        guard let settings = parameters.flatMap({ $0.has("rope_type") || $0.has("type") ? $0 : nil })
            ?? (legacyScalesThisType ? legacy : nil)
        else { return rope }
        var declaredType = try settings.optionalString("rope_type")
        if declaredType == nil { declaredType = try settings.optionalString("type") }
        let type = declaredType ?? "default"
        func original() throws(ModelError) -> Int {
            if let topLevel = try config.optionalInt("original_max_position_embeddings") { return topLevel }
            guard let value = try settings.optionalDouble("original_max_position_embeddings") else { return maxPositionEmbeddings }
            guard value >= 1, value <= Double(ModelConfig.Limits.context), value.rounded() == value else {
                throw settings.failure("original_max_position_embeddings", "\(value) is out of range")
            }
            return Int(value)
        }
        func required(_ key: String) throws(ModelError) -> Double {
            guard let value = try settings.optionalDouble(key) else { throw settings.failure(key, "\(type) scaling needs \(key)") }
            return value
        }
        switch type {
        case "default":
            break
        case "linear":
            rope.scaling = .linear(factor: try required("factor"))
        case "llama3":
            rope.scaling = .llama3(
                factor: try required("factor"), lowFrequencyFactor: try settings.optionalDouble("low_freq_factor") ?? 1,
                highFrequencyFactor: try settings.optionalDouble("high_freq_factor") ?? 4, originalContext: try original())
        case "yarn":
            var yarn = YaRN(factor: try required("factor"), originalContext: try original())
            yarn.betaFast = try settings.optionalDouble("beta_fast") ?? 32
            yarn.betaSlow = try settings.optionalDouble("beta_slow") ?? 1
            yarn.attentionFactor = try settings.optionalDouble("attention_factor")
            yarn.mscale = try settings.optionalDouble("mscale")
            yarn.mscaleAllDim = try settings.optionalDouble("mscale_all_dim")
            yarn.truncate = try settings.optionalBool("truncate") ?? true
            rope.scaling = .yarn(yarn)
        case "longrope", "su":
            guard let short = try settings.optionalDoubles("short_factor", maxCount: ModelConfig.Limits.headDim),
                let long = try settings.optionalDoubles("long_factor", maxCount: ModelConfig.Limits.headDim)
            else { throw settings.failure("short_factor", "longrope scaling needs short_factor and long_factor") }
            rope.scaling = .longRoPE(LongRoPE(
                shortFactors: short, longFactors: long, originalContext: try original(),
                factor: try settings.optionalDouble("factor"), attentionFactor: try settings.optionalDouble("attention_factor")))
        default:
            throw settings.failure("rope_type", "'\(type)' is not supported (default, linear, llama3, yarn, longrope are)")
        }
        return rope
    }

    /// The partial rotary factor of a config: top level (4.x) or inside
    /// `rope_parameters` (5.x, also per layer type); nil when absent.
    static func partialRotaryFactor(_ config: HyperparameterReader, layerType: String = "full_attention") throws(ModelError) -> Double? {
        if let topLevel = try config.optionalDouble("partial_rotary_factor") { return topLevel }
        var parameters = try config.nested("rope_parameters")
        if let nested = try parameters?.nested(layerType) { parameters = nested }
        return try parameters?.optionalDouble("partial_rotary_factor")
    }

    /// These settings as transformers 5's `rope_parameters` entries.
    func parameters(partialRotaryFactor: Double?) -> JSONObject {
        var object: JSONObject = ["rope_type": .string(scaling?.typeName ?? "default"), "rope_theta": .double(theta)]
        if let partialRotaryFactor { object["partial_rotary_factor"] = .double(partialRotaryFactor) }
        switch scaling {
        case nil:
            break
        case .linear(let factor):
            object["factor"] = .double(factor)
        case .llama3(let factor, let low, let high, let original):
            object["factor"] = .double(factor)
            object["low_freq_factor"] = .double(low)
            object["high_freq_factor"] = .double(high)
            object["original_max_position_embeddings"] = .int(Int64(original))
        case .yarn(let yarn):
            object["factor"] = .double(yarn.factor)
            object["original_max_position_embeddings"] = .int(Int64(yarn.originalContext))
            object["beta_fast"] = .double(yarn.betaFast)
            object["beta_slow"] = .double(yarn.betaSlow)
            if let value = yarn.attentionFactor { object["attention_factor"] = .double(value) }
            if let value = yarn.mscale { object["mscale"] = .double(value) }
            if let value = yarn.mscaleAllDim { object["mscale_all_dim"] = .double(value) }
            if !yarn.truncate { object["truncate"] = .bool(false) }
        case .longRoPE(let long):
            object["short_factor"] = .array(long.shortFactors.map { .double($0) })
            object["long_factor"] = .array(long.longFactors.map { .double($0) })
            object["original_max_position_embeddings"] = .int(Int64(long.originalContext))
            if let value = long.factor { object["factor"] = .double(value) }
            if let value = long.attentionFactor { object["attention_factor"] = .double(value) }
        }
        return JSONObject(object.keys.sorted().map { ($0, object[$0]!) })
    }

    /// These settings as transformers 4.x's `rope_scaling` (nil without scaling).
    func legacyScaling() -> JSONValue {
        guard scaling != nil else { return .null }
        var object = parameters(partialRotaryFactor: nil)
        object["rope_theta"] = nil
        return .object(object)
    }
}
