import JSON

/// llama.cpp's `step35` architecture (Step-3.5) as the GGUF carrier of
/// headwise-gated Llama, Mistral, Qwen2 and Qwen3 models, and of Qwen3-MoE
/// and Mixtral: the one graph of the pinned llama.cpp (llama-cpp-python
/// 0.3.36, `src/models/step35.cpp`) that computes their layer with a gate.
///
/// Its layer is theirs: pre-norm RMSNorms, q/k/v with optional biases and
/// per-head q/k RMSNorms, NeoX RoPE (transformers' row order, so q/k rows
/// are not permuted as for `llama`), a SwiGLU MLP, and an optional headwise
/// output gate `blk.N.attn_gate` (`{n_embd, n_head}`, `sigmoid(x W)` per
/// head before `attn_output`). What differs is encoded so that it computes
/// the model exactly:
///
/// - Its full-attention layers rotate half of `rope.dimension_count`, its
///   sliding-window layers `rope.dimension_count_swa` (default: the same
///   count, unhalved), and llama.cpp requires at least one sliding-window
///   layer (`GGML_ASSERT(hparams.is_swa_any())`). A layer of the model that
///   attends to everything is written as a sliding-window layer with a
///   window no context reaches (`unlimitedWindow`); layers of Mistral's or
///   Qwen's windows slide with that window. When some layer stays full
///   attention (Qwen's windows above `max_window_layers`),
///   `rope.dimension_count` is twice the rotated count.
/// - Sliding-window layers take their RoPE base from `rope.freq_base_swa`
///   (10000 when absent), and never apply RoPE scaling (no rope factors, no
///   frequency scale): a model with RoPE scaling is refused.
/// - `output.weight` is required: tied embeddings are written twice (read
///   back as tied when the bytes are equal).
/// - A mixture-of-experts layer always adds a shared expert: a model without
///   one gets a zero shared expert of `sharedExpertWidth`, which adds exactly
///   0, and the router is set to softmax (`expert_gating_func` 1; step35's
///   default is a sigmoid) with `expert_weights_norm` from the model.
///
/// `ModelGraph.preparedForGGUF` decides when a model goes this way; the
/// family's `Architecture` with `step35` applied names its tensors and keys.
public enum Step35 {
    /// llama.cpp's `general.architecture`.
    public static let ggufName = "step35"

    /// The families whose layers step35 computes exactly.
    static let families: [ModelFamily] = [.llama, .mistral, .qwen2, .qwen3, .qwen3Moe, .mixtral]

    /// The window of layers that attend to every earlier token: beyond any
    /// context llama.cpp allocates, and small enough that its sliding-window
    /// cache size (window x 256 sequences + batch, `llama-kv-cache-iswa.cpp`)
    /// stays within 32 bits.
    public static let unlimitedWindow = 1 << 23

    /// The width of the zero shared expert a model without one gets: one
    /// block of the 32-element types, so its `ffn_down_shexp` rows quantize.
    static let sharedExpertWidth = 32

    /// `LLAMA_EXPERT_GATING_FUNC_TYPE_SOFTMAX`.
    static let softmaxGating = 1

    /// gguf-py's keys step35 reads beyond the common ones.
    enum Key {
        static let ropeDimensionCountSWA = "rope.dimension_count_swa"
        static let keyLengthSWA = "attention.key_length_swa"
        static let valueLengthSWA = "attention.value_length_swa"
        static let expertGatingFunction = "expert_gating_func"
        static let expertWeightsNorm = "expert_weights_norm"
        static let expertWeightsScale = "expert_weights_scale"
        static let nextNPredictLayers = "nextn_predict_layers"
        static let swigluClamps = ["swiglu_clamp_exp", "swiglu_clamp_shexp"]
    }

    /// The tensors of the shared expert step35 adds in every expert layer.
    static let sharedExpertSuffixes = ["ffn_gate_shexp.weight", "ffn_up_shexp.weight", "ffn_down_shexp.weight"]

    // MARK: Writing

    /// Why step35 cannot compute `graph` exactly; nil when it can. `graph`
    /// has its gate in a separate tensor (`ModelGraph.withSeparateGate`).
    /// - Complexity: reads the o_proj biases, if any (one vector per layer).
    public static func obstacle(to graph: ModelGraph) throws -> String? {
        let config = graph.config
        if config.family == .qwen2Moe {
            return "Qwen2-MoE scales its shared expert by sigmoid(x · shared_expert_gate); step35's shared expert has no such gate"
        }
        guard families.contains(config.family) else {
            return "step35's layer is Llama's (pre-norms, SwiGLU, optional q/k norms and q/k/v biases) and its experts Qwen3-MoE's or Mixtral's; \(config.architecture.transformersClass) has parts it lacks"
        }
        if let gate = config.gate, gate.granularity == .elementwise {
            return "step35's attn_gate holds one gate per head (headwise); an elementwise gate has no place in it"
        }
        if let scaling = config.rope.scaling {
            return "\(scaling.typeName) RoPE scaling: step35 scales RoPE only in full-attention layers, yet llama.cpp requires at least one sliding-window layer, and every layer of this model would be one"
        }
        if graph.passthrough.contains(where: { GGUFMetadataBuilder.ropeTensorNames.contains($0.name) }) {
            return "its RoPE frequency factors (rope_freqs.weight): step35 applies them only in full-attention layers, yet llama.cpp requires at least one sliding-window layer, and every layer of this model would be one"
        }
        if config.rotaryDimensions != config.headDim || !config.ropeLayers.allSatisfy({ $0 }) {
            return "RoPE rotates part of the head or skips layers; step35 rotates whole heads in every layer here"
        }
        if config.slidingRope != nil {
            return "its sliding-window layers have a RoPE base of their own"
        }
        if config.activation != .silu {
            return "step35's MLP is SwiGLU; this model's activation is \(config.activation.rawValue)"
        }
        if config.slidingLayers.contains(false), config.maxPositionEmbeddings > unlimitedWindow {
            return "its context of \(config.maxPositionEmbeddings) tokens is longer than the \(unlimitedWindow)-token window that stands for full attention in step35"
        }
        for layer in graph.layers {
            if let bias = layer[.outputBias], try bias.values().contains(where: { $0 != 0 }) {
                return "layer \(layer.index)'s o_proj has a bias, which step35's attention output has no place for"
            }
        }
        return nil
    }

    /// `graph` as step35 carries it (`obstacle` returned nil): the family's
    /// architecture with step35's names and keys, `output.weight` for a tied
    /// model, no o_proj bias (all zeros), a zero shared expert per expert
    /// layer. A graph it already carries comes back unchanged.
    static func carrying(_ graph: ModelGraph) -> ModelGraph {
        var result = graph
        result.config.architecture = graph.config.architecture.step35
        if result.output == nil {
            let embedding = graph.embedding
            result.output = GraphTensor(name: "lm_head.weight", shape: embedding.shape, dtype: embedding.dtype, expression: embedding.expression)
            result.config.tieWordEmbeddings = false
        }
        for index in result.layers.indices { result.layers[index][.outputBias] = nil }
        if graph.config.experts != nil {
            let (D, S) = (graph.config.hiddenSize, sharedExpertWidth)
            for layer in graph.layers {
                let dtype = layer.experts?.router.dtype ?? .f32
                for suffix in sharedExpertSuffixes {
                    let name = "\(Architecture.ggufLayerPrefix)\(layer.index).\(suffix)"
                    guard !result.passthrough.contains(where: { $0.name == name }) else { continue }
                    let shape = suffix.hasPrefix("ffn_down") ? [D, S] : [S, D]
                    result.passthrough.append(GraphTensor(
                        name: name, shape: shape, dtype: dtype,
                        expression: .zeros(rowCount: shape[0], rowElements: shape[1])))
                }
            }
        }
        return result
    }

    /// `graph` (carried by step35) as its family's own architecture carries
    /// it: without the zero shared experts step35 needs.
    static func uncarrying(_ graph: ModelGraph) -> ModelGraph {
        var result = graph
        result.config.architecture = graph.config.architecture.withoutStep35
        result.passthrough.removeAll { tensor in
            Architecture.splitLayer(tensor.name, prefix: Architecture.ggufLayerPrefix).map { sharedExpertSuffixes.contains($0.1) } ?? false
        }
        return result
    }

    /// The hyperparameters step35 reads beyond those the families share
    /// with it (`Architecture.step35`).
    @Sendable static func hyperparameters(_ config: ModelConfig) -> [(String, GGUFValue)] {
        func u32(_ value: Int) -> GGUFValue { .uint32(UInt32(clamping: value)) }
        let windowed = config.slidingLayers.contains(true)
        let pattern = windowed ? config.slidingLayers : Array(repeating: true, count: config.layerCount)
        let someFull = pattern.contains(false)
        let rotated = config.rotaryDimensions
        var keys: [(String, GGUFValue)] = [
            (GGUFKey.contextLength, u32(config.maxPositionEmbeddings)),
            (GGUFKey.keyLength, u32(config.headDim)),
            (GGUFKey.valueLength, u32(config.headDim)),
            (GGUFKey.ropeFreqBaseSWA, .float32(Float(config.rope.theta))),
            // Full-attention layers rotate half of this count.
            (GGUFKey.ropeDimensionCount, u32(someFull ? 2 * rotated : rotated)),
        ]
        if someFull { keys.append((Key.ropeDimensionCountSWA, u32(rotated))) }
        keys += [
            (GGUFKey.slidingWindow, u32(windowed ? config.slidingWindow ?? unlimitedWindow : unlimitedWindow)),
            (GGUFKey.slidingWindowPattern, .array(elementType: .bool, values: pattern.map { .bool($0) })),
            (GGUFKey.expertFeedForwardLength, u32(config.experts?.intermediateSize ?? 0)),
        ]
        if let experts = config.experts {
            keys += [
                (GGUFKey.expertSharedFeedForwardLength, u32(sharedExpertWidth)),
                (Key.expertGatingFunction, u32(softmaxGating)),
                (Key.expertWeightsNorm, .bool(experts.normalizesTopK)),
            ]
        }
        return keys
    }
}

extension Architecture {
    /// This family as llama.cpp's `step35` carries it: the same layer and
    /// tensor names, step35's keys, q/k rows in transformers' order (step35
    /// ropes NeoX-style), no `rope_freqs` (refused: `Step35.obstacle`).
    var step35: Architecture {
        with {
            $0.ggufName = Step35.ggufName
            $0.permutesQueryKeyRows = false
            $0.storesRopeFrequencies = false
            $0.ggufKeys = [.blockCount, .embeddingLength, .feedForwardLength, .headCount, .headCountKV, .ropeFreqBase, .rmsEpsilon,
                           .expertCount, .expertUsedCount, .custom(Step35.hyperparameters), .fileType]
        }
    }

    /// Whether this is a family as step35 carries it.
    public var isStep35: Bool { ggufName == Step35.ggufName }

    /// The family itself, where this is the family as step35 carries it.
    var withoutStep35: Architecture { isStep35 ? family.architecture : self }
}
