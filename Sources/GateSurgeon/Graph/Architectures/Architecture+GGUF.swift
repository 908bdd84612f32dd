import Platform
import JSON

/// llama.cpp's GGUF metadata keys for models, spelled once (gguf-py's
/// `Keys`). Per-architecture keys are suffixes: the file stores them as
/// `<general.architecture>.<suffix>`.
public enum GGUFKey {
    public static let architecture = "general.architecture"
    public static let type = "general.type"
    public static let name = "general.name"
    public static let fileType = "general.file_type"
    public static let quantizationVersion = "general.quantization_version"

    public static let blockCount = "block_count"
    public static let contextLength = "context_length"
    public static let embeddingLength = "embedding_length"
    public static let feedForwardLength = "feed_forward_length"
    public static let vocabSize = "vocab_size"
    public static let headCount = "attention.head_count"
    public static let headCountKV = "attention.head_count_kv"
    public static let keyLength = "attention.key_length"
    public static let valueLength = "attention.value_length"
    public static let rmsEpsilon = "attention.layer_norm_rms_epsilon"
    public static let slidingWindow = "attention.sliding_window"
    public static let slidingWindowPattern = "attention.sliding_window_pattern"
    public static let attentionScale = "attention.scale"
    public static let attentionLogitSoftcapping = "attn_logit_softcapping"
    public static let finalLogitSoftcapping = "final_logit_softcapping"
    public static let embeddingScale = "embedding_scale"
    public static let residualScale = "residual_scale"
    public static let logitScale = "logit_scale"
    public static let expertCount = "expert_count"
    public static let expertUsedCount = "expert_used_count"
    public static let expertFeedForwardLength = "expert_feed_forward_length"
    public static let expertSharedFeedForwardLength = "expert_shared_feed_forward_length"
    public static let ropeDimensionCount = "rope.dimension_count"
    public static let ropeFreqBase = "rope.freq_base"
    public static let ropeFreqBaseSWA = "rope.freq_base_swa"
    public static let ropeScalingType = "rope.scaling.type"
    public static let ropeScalingFactor = "rope.scaling.factor"
    public static let ropeScalingAttentionFactor = "rope.scaling.attn_factor"
    public static let ropeScalingOriginalContext = "rope.scaling.original_context_length"
    public static let ropeScalingYarnExtFactor = "rope.scaling.yarn_ext_factor"
    public static let ropeScalingYarnAttentionFactor = "rope.scaling.yarn_attn_factor"
    public static let ropeScalingYarnBetaFast = "rope.scaling.yarn_beta_fast"
    public static let ropeScalingYarnBetaSlow = "rope.scaling.yarn_beta_slow"

    /// The key gatesurgeon adds to a GGUF file it gated with the separate
    /// layout: the gate's granularity.
    public static let outputGate = "gatesurgeon.attention.output_gate"
}

/// One group of hyperparameter keys llama.cpp's converter writes, with how
/// gatesurgeon computes them from a config. A family lists them in the
/// order its converter class writes them (`Architecture.ggufKeys`).
public enum GGUFHyperparameter: Sendable {
    case blockCount, contextLength, embeddingLength, feedForwardLength, headCount, headCountKV
    /// `rope.scaling.*` for linear, YaRN and LongRoPE scaling (Llama 3's goes in a tensor).
    case ropeScaling
    case ropeFreqBase
    /// The RoPE base of sliding-window layers, when it differs.
    case ropeFreqBaseSWA
    case rmsEpsilon, expertCount, expertUsedCount
    /// `attention.key_length` and `.value_length`, when the config names `head_dim`.
    case keyValueLength
    /// `general.file_type`, where the converter writes it (its value is set later).
    case fileType
    case vocabSize, ropeDimensionCount
    case expertFeedForwardLength, expertSharedFeedForwardLength
    /// `attention.sliding_window` when layers slide.
    case slidingWindow
    /// `attention.sliding_window`, 0 when no layer slides (Phi-3's converter).
    case slidingWindowOrZero
    /// `attention.sliding_window_pattern`: per layer, whether it slides (OLMo 3).
    case slidingWindowPattern
    /// `rope.scaling.original_context_length` (Phi-3's converter writes it for every model).
    case ropeScalingOriginalContext
    /// `rope.scaling.attn_factor` as Phi-3's converter computes it for LongRoPE:
    /// sqrt(1 + ln(s) / ln(original)) with s = max positions / original, 1 for s <= 1.
    case longRoPEAttentionFactor
    case attentionLogitSoftcapping, finalLogitSoftcapping
    /// Granite's multipliers: `embedding_scale`, `residual_scale`, `attention.scale`, `logit_scale`.
    case embeddingScale, residualScale, attentionScale, logitScale
    /// Keys only one family writes, computed by its file.
    case custom(@Sendable (ModelConfig) -> [(String, GGUFValue)])

    /// `TextModel.set_gguf_parameters` of llama.cpp's converter.
    public static let converterBase: [GGUFHyperparameter] = [
        .blockCount, .contextLength, .embeddingLength, .feedForwardLength, .headCount, .headCountKV, .ropeScaling,
        .ropeFreqBase, .ropeFreqBaseSWA, .rmsEpsilon, .expertCount, .expertUsedCount, .keyValueLength, .fileType,
    ]

    /// The keys (suffixes after `<arch>.`, or whole `general.*` keys) and
    /// values the converter writes for `config`; empty where it writes none.
    func entries(_ config: ModelConfig) -> [(String, GGUFValue)] {
        func u32(_ value: Int) -> GGUFValue { .uint32(UInt32(clamping: value)) }
        func f32(_ value: Double) -> GGUFValue { .float32(Float(value)) }
        switch self {
        case .blockCount: return [(GGUFKey.blockCount, u32(config.layerCount))]
        case .contextLength:
            return config.declares("max_position_embeddings") ? [(GGUFKey.contextLength, u32(config.maxPositionEmbeddings))] : []
        case .embeddingLength: return [(GGUFKey.embeddingLength, u32(config.hiddenSize))]
        case .feedForwardLength:
            return config.declares("intermediate_size") ? [(GGUFKey.feedForwardLength, u32(config.intermediateSize))] : []
        case .headCount: return [(GGUFKey.headCount, u32(config.headCount))]
        case .headCountKV:
            return config.declares("num_key_value_heads") ? [(GGUFKey.headCountKV, u32(config.kvHeadCount))] : []
        case .ropeScaling:
            switch config.rope.scaling {
            case .linear(let factor):
                return [(GGUFKey.ropeScalingType, .string("linear")), (GGUFKey.ropeScalingFactor, f32(factor))]
            case .yarn(let yarn):
                var entries: [(String, GGUFValue)] = [
                    (GGUFKey.ropeScalingType, .string("yarn")), (GGUFKey.ropeScalingFactor, f32(yarn.factor)),
                    (GGUFKey.ropeScalingOriginalContext, u32(yarn.originalContext)),
                ]
                if let value = yarn.attentionFactor { entries.append((GGUFKey.ropeScalingYarnAttentionFactor, f32(value))) }
                if config.ropeDeclares("beta_fast") { entries.append((GGUFKey.ropeScalingYarnBetaFast, f32(yarn.betaFast))) }
                if config.ropeDeclares("beta_slow") { entries.append((GGUFKey.ropeScalingYarnBetaSlow, f32(yarn.betaSlow))) }
                return entries
            case .longRoPE:
                return [(GGUFKey.ropeScalingType, .string("longrope"))]
            case .llama3, nil:
                return []
            }
        case .ropeFreqBase: return [(GGUFKey.ropeFreqBase, f32(config.rope.theta))]
        case .ropeFreqBaseSWA:
            if let local = config.slidingRope { return [(GGUFKey.ropeFreqBaseSWA, f32(local.theta))] }
            guard config.architecture.ropePerLayerType, config.slidingLayers.contains(true) else { return [] }
            return [(GGUFKey.ropeFreqBaseSWA, f32(config.rope.theta))]
        case .rmsEpsilon: return [(GGUFKey.rmsEpsilon, f32(config.rmsNormEps))]
        case .expertCount: return config.experts.map { [(GGUFKey.expertCount, u32($0.count))] } ?? []
        case .expertUsedCount: return config.experts.map { [(GGUFKey.expertUsedCount, u32($0.perToken))] } ?? []
        case .keyValueLength:
            guard config.declares("head_dim") else { return [] }
            return [(GGUFKey.keyLength, u32(config.headDim)), (GGUFKey.valueLength, u32(config.headDim))]
        case .fileType: return [(GGUFKey.fileType, .uint32(0))]
        case .vocabSize: return [(GGUFKey.vocabSize, u32(config.vocabSize))]
        case .ropeDimensionCount: return [(GGUFKey.ropeDimensionCount, u32(config.rotaryDimensions))]
        case .expertFeedForwardLength:
            return config.experts.map { [(GGUFKey.expertFeedForwardLength, u32($0.intermediateSize))] } ?? []
        case .expertSharedFeedForwardLength:
            return config.experts?.sharedIntermediateSize.map { [(GGUFKey.expertSharedFeedForwardLength, u32($0))] } ?? []
        case .slidingWindow: return config.slidingWindow.map { [(GGUFKey.slidingWindow, u32($0))] } ?? []
        case .slidingWindowOrZero: return [(GGUFKey.slidingWindow, u32(config.slidingWindow ?? 0))]
        case .slidingWindowPattern:
            guard config.slidingWindow != nil else { return [] }
            return [(GGUFKey.slidingWindowPattern, .array(elementType: .bool, values: config.slidingLayers.map { .bool($0) }))]
        case .ropeScalingOriginalContext:
            return [(GGUFKey.ropeScalingOriginalContext, u32(config.originalContextLength))]
        case .longRoPEAttentionFactor:
            guard case .longRoPE = config.rope.scaling else { return [] }
            let scale = Double(config.maxPositionEmbeddings) / Double(config.originalContextLength)
            let factor = scale > 1 ? (1 + log(scale) / log(Double(config.originalContextLength))).squareRoot() : 1
            return [(GGUFKey.ropeScalingAttentionFactor, f32(factor))]
        case .attentionLogitSoftcapping: return config.attentionSoftcap.map { [(GGUFKey.attentionLogitSoftcapping, .float32($0))] } ?? []
        case .finalLogitSoftcapping: return config.finalLogitSoftcap.map { [(GGUFKey.finalLogitSoftcapping, .float32($0))] } ?? []
        // Granite's converter writes each multiplier that is set and not zero.
        case .embeddingScale: return config.embeddingMultiplier.map { [(GGUFKey.embeddingScale, .float32($0))] } ?? []
        case .residualScale: return config.residualMultiplier.map { [(GGUFKey.residualScale, .float32($0))] } ?? []
        case .attentionScale: return config.attentionMultiplier.map { [(GGUFKey.attentionScale, .float32($0))] } ?? []
        case .logitScale: return config.logitDivisor.map { [(GGUFKey.logitScale, .float32($0))] } ?? []
        case .custom(let compute): return compute(config)
        }
    }
}

/// A reversible change llama.cpp's converter makes to a tensor's values:
/// `encode` gives what GGUF stores, `decode` undoes it. The reader and the
/// writers both take them from `ModelConfig.ggufTransforms(forLayer:)`.
public enum GGUFTensorTransform: Sendable, Equatable {
    /// Llama's q/k rows per head from rotate-half order to interleaved pairs.
    case ropeRowPermutation(heads: Int)
    /// Zero-centred norm weights stored as plain ones.
    case offset(Float)

    func encode(_ expression: TensorExpression) -> TensorExpression {
        switch self {
        case .ropeRowPermutation(let heads):
            expression.gatheringRows(GGUFTensorTransform.ropeRowPermutation(rows: expression.rowCount, heads: heads))
        case .offset(let amount):
            expression.offset(by: amount)
        }
    }

    func decode(_ expression: TensorExpression) -> TensorExpression {
        switch self {
        case .ropeRowPermutation(let heads):
            expression.gatheringRows(GGUFTensorTransform.inverseRopeRowPermutation(rows: expression.rowCount, heads: heads))
        case .offset(let amount):
            expression.offset(by: -amount)
        }
    }

    /// The row order llama.cpp's converter gives Llama q_proj/k_proj:
    /// `result[ggufRow] = transformersRow`. Within each head, the rotate-half
    /// layout (first half, second half) becomes interleaved pairs.
    /// - Complexity: O(rows); the caller has checked `rows` against the tensor.
    public static func ropeRowPermutation(rows: Int, heads: Int) -> [Int] {
        precondition(heads > 0 && rows % heads == 0 && (rows / heads) % 2 == 0, "rows must split into heads of even size")
        let headRows = rows / heads
        let half = headRows / 2
        var result = [Int](repeating: 0, count: rows)
        for head in 0..<heads {
            for pair in 0..<half {
                for side in 0..<2 {
                    result[head * headRows + pair * 2 + side] = head * headRows + side * half + pair
                }
            }
        }
        return result
    }

    /// The inverse of `ropeRowPermutation`: `result[transformersRow] = ggufRow`.
    public static func inverseRopeRowPermutation(rows: Int, heads: Int) -> [Int] {
        let forward = ropeRowPermutation(rows: rows, heads: heads)
        var inverse = [Int](repeating: 0, count: rows)
        for (ggufRow, transformersRow) in forward.enumerated() { inverse[transformersRow] = ggufRow }
        return inverse
    }
}

extension Architecture {
    /// The metadata convert_hf_to_gguf.py writes before the tokenizer's:
    /// `general.*`, the family's hyperparameters in its converter's order,
    /// and `general.quantization_version`.
    /// - Parameter name: `general.name` (the converter uses the model folder's name).
    func ggufMetadata(for config: ModelConfig, name: String) -> Metadata<GGUFValue> {
        var metadata = Metadata<GGUFValue>([
            (GGUFKey.architecture, .string(ggufName)),
            (GGUFKey.type, .string("model")),
            (GGUFKey.name, .string(name)),
        ])
        for group in ggufKeys {
            for (key, value) in group.entries(config) {
                metadata[key.hasPrefix("general.") ? key : "\(ggufName).\(key)"] = value
            }
        }
        metadata[GGUFKey.quantizationVersion] = .uint32(GGUFMetadataBuilder.ggmlQuantizationVersion)
        return metadata
    }
}

extension ModelConfig {
    /// What llama.cpp's converter does to the values of `role` in every layer.
    public func ggufTransforms(for role: LayerRole) -> [GGUFTensorTransform] {
        var transforms: [GGUFTensorTransform] = []
        if architecture.permutesQueryKeyRows {
            // A fused gate has no place in those files (ModelWriter refuses it), so q_proj is plain queries here.
            if role == .query { transforms.append(.ropeRowPermutation(heads: headCount)) }
            if role == .key { transforms.append(.ropeRowPermutation(heads: kvHeadCount)) }
        }
        if zeroCenteredNorms && role.isNorm { transforms.append(.offset(1)) }
        return transforms
    }

    /// What llama.cpp's converter does to the final norm's values.
    public var ggufFinalNormTransforms: [GGUFTensorTransform] { zeroCenteredNorms ? [.offset(1)] : [] }
}
