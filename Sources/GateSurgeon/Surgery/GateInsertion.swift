import JSON

/// How fresh gate weights are initialized.
public enum GateInitialization: Sendable, Equatable {
    /// W_gate = 0: sigmoid(0) = 0.5 exactly, so with o_proj doubled the
    /// gated model computes exactly what the input did.
    case zero
    /// N(0, std) from a deterministic generator keyed by seed, layer and tensor.
    case normal(std: Float, seed: UInt64)
}

/// Why a gate cannot be added.
public enum GateInsertionError: Error, Sendable, CustomStringConvertible {
    case alreadyGated(path: String, evidence: String)
    case layoutUnsupported(layout: GateLayout, family: ModelFamily, supported: [GateLayout])
    case partialLayersUnsupported(layout: GateLayout)
    case layerOutOfRange(layer: Int, layerCount: Int)
    case headwiseUnsupported(layout: GateLayout)
    /// The target layout's runtime computes something the source cannot express (or vice versa).
    case cannotConvert(path: String, layout: GateLayout, reason: String)

    public var description: String {
        switch self {
        case .alreadyGated(let path, let evidence):
            "\(path): already gated (\(evidence)); refusing to add a second gate"
        case .layoutUnsupported(let layout, let family, let supported):
            "the \(layout.rawValue) layout cannot carry a \(family.rawValue) model (its layouts: \(supported.map(\.rawValue).joined(separator: ", ")))"
        case .partialLayersUnsupported(let layout):
            "the \(layout.rawValue) layout gates every layer (its config has one switch for all layers); only the separate layout gates some"
        case .layerOutOfRange(let layer, let layerCount):
            "there is no layer \(layer): the model has layers 0-\(layerCount - 1)"
        case .headwiseUnsupported(let layout):
            "the \(layout.rawValue) layout has elementwise gates only"
        case .cannotConvert(let path, let layout, let reason):
            "\(path): cannot be written in the \(layout.rawValue) layout: \(reason)"
        }
    }
}

/// What `GateInsertion` added.
public struct GateInsertionSummary: Sendable {
    public var gatedLayers: [Int] = []
    /// Tensors created or rewritten, by name.
    public var tensorsAdded: [String] = []
    public var tensorsChanged: [String] = []
    public var parametersAdded = 0
}

/// Inserts freshly initialized attention output gates (Gated Attention,
/// Qiu et al. 2025: each head's SDPA output times sigmoid(X W_gate), before
/// o_proj) into an ungated model graph, in one of three layouts:
///
/// - `gated-attention`: the paper's official code, whose Qwen3 class is a
///   Llama, Mistral or Qwen2 layer too once `use_qk_norm` and `qkv_bias` are
///   set; the output is a checkpoint of that class (`model_type` qwen3).
/// - `qwen3-next`: Qwen3 becomes transformers' Qwen3.5, Qwen3-MoE its
///   Qwen3.5-MoE (every Qwen3.5 part the source lacks added so that it
///   changes nothing).
/// - `separate`: one new tensor per layer, for any family and any layers.
public struct GateInsertion: Sendable {
    public var layout: GateLayout
    public var granularity: GateGranularity
    public var initialization: GateInitialization
    /// Double o_proj so that a gate of 0.5 changes nothing (exact in binary
    /// floating point, and in ggml block types by doubling the block scales).
    public var compensate: Bool
    /// Layers to gate; nil means all.
    public var layers: Set<Int>?

    public init(layout: GateLayout, granularity: GateGranularity = .elementwise, initialization: GateInitialization = .zero,
                compensate: Bool = true, layers: Set<Int>? = nil) {
        self.layout = layout
        self.granularity = granularity
        self.initialization = initialization
        self.compensate = compensate
        self.layers = layers
    }

    /// The layout used when none is given: the family's first (one a
    /// training framework loads), unless only some layers are gated or the
    /// output is GGUF, which only the separate layout can carry.
    public static func defaultLayout(for family: ModelFamily, format: CheckpointFormat, gatingSomeLayers: Bool) -> GateLayout {
        if format == .gguf || gatingSomeLayers { return .separate }
        return family.architecture.gateLayouts.first ?? .separate
    }

    /// Checks the request against the model before any work is done.
    public func validate(for graph: ModelGraph) throws {
        let config = graph.config
        if let gate = config.gate {
            throw GateInsertionError.alreadyGated(path: graph.sourcePath, evidence: GateInsertion.evidence(for: gate, config: config))
        }
        if let layers {
            if let bad = layers.sorted().first(where: { $0 < 0 || $0 >= config.layerCount }) {
                throw GateInsertionError.layerOutOfRange(layer: bad, layerCount: config.layerCount)
            }
            if layout != .separate && layers.count != config.layerCount {
                throw GateInsertionError.partialLayersUnsupported(layout: layout)
            }
        }
        let supported = config.architecture.gateLayouts
        guard supported.contains(layout) else {
            throw GateInsertionError.layoutUnsupported(layout: layout, family: config.family, supported: supported)
        }
        if layout == .qwen3Next && granularity == .headwise {
            throw GateInsertionError.headwiseUnsupported(layout: layout)
        }
        if layout == .gatedAttention {
            // The official code windows every layer when `sliding_window` is set; Qwen's
            // per-layer windows (above `max_window_layers`) have no equivalent there.
            if config.slidingLayers.contains(true), case .everyLayer = config.architecture.layerPattern {
                // A window over every layer is the official code's use_sliding_window with max_window_layers 0.
            } else if config.slidingLayers.contains(true) || config.json["use_sliding_window"]?.boolValue == true {
                throw GateInsertionError.cannotConvert(path: graph.sourcePath, layout: layout, reason: "its sliding window covers only some layers, which the official code cannot express")
            }
        }
        if layout == .qwen3Next, let experts = config.experts, !experts.normalizesTopK {
            throw GateInsertionError.cannotConvert(path: graph.sourcePath, layout: layout, reason: "Qwen3.5-MoE always renormalises the top-k expert weights and this model does not (norm_topk_prob false)")
        }
    }

    static func evidence(for gate: GateSpec, config: ModelConfig) -> String {
        switch gate.layout {
        case .gatedAttention: "config.json sets \(gate.granularity == .elementwise ? "elementwise" : "headwise")_attn_output_gate"
        case .qwen3Next: config.architecture.gatedByDefault ? "model_type \(config.family.rawValue), whose attention is gated" : "config.json sets attn_output_gate"
        case .separate: "it has \(gate.granularity == .elementwise ? "self_attn.gate_proj" : "self_attn.g_proj") tensors"
        }
    }

    /// The gated graph. Untouched tensors keep their stored source, so
    /// writing copies them byte for byte.
    public func apply(to graph: ModelGraph) throws -> (ModelGraph, GateInsertionSummary) {
        try validate(for: graph)
        var result = graph
        var summary = GateInsertionSummary()
        let config = graph.config
        let spec = GateSpec(layout: layout, granularity: granularity, layers: layers.flatMap { $0.count == config.layerCount ? nil : $0 })
        let fused = FusedQueryLayout(spec, heads: config.headCount, kvHeads: config.kvHeadCount, headDim: config.headDim)
        let gateRows = config.gateRows(granularity)
        let D = config.hiddenSize

        for index in graph.layers.indices where layers?.contains(index) ?? true {
            var layer = graph.layers[index]
            let gate = fresh(rows: gateRows, columns: D, stream: UInt64(index))
            if let fused {
                guard let query = layer[.query] else {
                    throw GateInsertionError.cannotConvert(path: graph.sourcePath, layout: layout, reason: "its queries share one projection with keys and values, which the \(layout.rawValue) layout does not split")
                }
                layer[.query] = GraphTensor(
                    name: query.name, shape: [fused.rowCount, D], dtype: query.dtype,
                    expression: .concatenatingRows(fused.runs.map { run in
                        TensorExpression.rows([.init(run.part == .query ? query.expression : gate, start: run.start, count: run.count)])
                    }))
                summary.tensorsChanged.append(query.name)
                if let bias = layer[.queryBias] {
                    // Gate rows get zero biases.
                    let values = try bias.values()
                    let fusedBias = fused.runs.flatMap { run in
                        run.part == .query ? Array(values[run.start..<(run.start + run.count)]) : [Float](repeating: 0, count: run.count)
                    }
                    layer[.queryBias] = GraphTensor(name: bias.name, shape: [fusedBias.count], dtype: bias.dtype, expression: .values(fusedBias, rowCount: 1))
                    summary.tensorsChanged.append(bias.name)
                }
            } else {
                let role: LayerRole = granularity == .elementwise ? .gate : .headwiseGate
                let name = config.architecture.transformersName(role, layer: index)
                let dtype = layer.queryProjection?.dtype ?? .f32
                layer[role] = GraphTensor(name: name, shape: [gateRows, D], dtype: dtype, expression: gate)
                summary.tensorsAdded.append(name)
            }
            if compensate, let output = layer[.output] {
                layer[.output]?.expression = .scaled(output.expression, by: 2)
                summary.tensorsChanged.append(output.name)
            }
            summary.parametersAdded += gateRows * D
            summary.gatedLayers.append(index)
            result.layers[index] = layer
        }
        result.config.gate = spec
        switch layout {
        case .gatedAttention:
            result = try GateInsertion.officialCodeCheckpoint(result, summary: &summary)
        case .qwen3Next:
            result = GateInsertion.qwen3_5Checkpoint(result, summary: &summary, initialization: initialization)
        case .separate:
            result.config.json = GateInsertion.separateLayoutConfig(result.config)
        }
        return (result, summary)
    }

    /// Zeros, or N(0, std) values keyed by the seed and `stream`.
    private func fresh(rows: Int, columns: Int, stream: UInt64) -> TensorExpression {
        switch initialization {
        case .zero:
            return .zeros(rowCount: rows, rowElements: columns)
        case .normal(let std, let seed):
            return .normal(rowCount: rows, rowElements: columns, std: std, seed: seed, stream: stream)
        }
    }

    /// A checkpoint of the official code's `Qwen3ForCausalLM`: a Qwen3 layer
    /// with `use_qk_norm` and `qkv_bias` switched as the source layer needs
    /// (`qkv_bias` gives o_proj a bias too: zeros where the source has none),
    /// and its config in the form that code reads (transformers 4.5x keys).
    static func officialCodeCheckpoint(_ graph: ModelGraph, summary: inout GateInsertionSummary) throws -> ModelGraph {
        var result = graph
        var config = graph.config
        let biased = config.attentionBias || config.outputBias
        if biased {
            for index in result.layers.indices where result.layers[index][.outputBias] == nil {
                let name = Architecture.qwen3.transformersName(.outputBias, layer: index)
                let dtype = result.layers[index][.output]?.dtype ?? .f32
                result.layers[index][.outputBias] = GraphTensor(name: name, shape: [config.hiddenSize], dtype: dtype,
                                                                expression: .zeros(rowCount: 1, rowElements: config.hiddenSize))
                summary.tensorsAdded.append(name)
            }
        }
        var json = config.json
        json["architectures"] = .array([.string(Architecture.qwen3.transformersClass)])
        json["model_type"] = .string(Architecture.qwen3.modelTypes[0])
        json["elementwise_attn_output_gate"] = .bool(config.gate?.granularity == .elementwise)
        json["headwise_attn_output_gate"] = .bool(config.gate?.granularity == .headwise)
        json["use_qk_norm"] = .bool(config.hasQueryKeyNorm)
        json["qkv_bias"] = .bool(biased)
        json["attention_bias"] = .bool(false)
        json["head_dim"] = .int(Int64(config.headDim))
        // transformers 4.5x reads RoPE from rope_theta and rope_scaling.
        json["rope_parameters"] = nil
        json["rope_theta"] = .double(config.rope.theta)
        json["rope_scaling"] = config.rope.legacyScaling()
        // A window over every layer (Mistral's), as the official eager path applies it when it is set.
        if case .everyLayer = config.architecture.layerPattern, let window = config.slidingWindow {
            json["use_sliding_window"] = .bool(true)
            json["sliding_window"] = .int(Int64(window))
            json["max_window_layers"] = .int(0)
        } else {
            json["use_sliding_window"] = .bool(false)
            json["sliding_window"] = .null
            if json["max_window_layers"] == nil { json["max_window_layers"] = .int(28) }
        }
        config.architecture = .qwen3
        config.slidingLayers = Array(repeating: config.slidingWindow != nil, count: config.layerCount)
        config.attentionBias = biased
        config.outputBias = biased
        config.json = JSONObject(json.keys.sorted().map { ($0, json[$0]!) })
        result.config = config
        return result
    }

    /// Qwen3 -> Qwen3.5, Qwen3-MoE -> Qwen3.5-MoE: every RMSNorm weight w is
    /// stored as w - 1 (Qwen3.5 multiplies by 1 + w), RoPE rotates whole
    /// heads, every layer is full attention. Qwen3.5-MoE's shared expert is
    /// added so that it adds exactly nothing and can still learn: down_proj
    /// zero (its output is 0), gate_proj and up_proj N(0, initializer_range)
    /// (so down_proj receives gradient), its sigmoid gate zero.
    static func qwen3_5Checkpoint(_ graph: ModelGraph, summary: inout GateInsertionSummary, initialization: GateInitialization) -> ModelGraph {
        var result = graph
        func shift(_ tensor: inout GraphTensor) {
            tensor.expression = tensor.expression.offset(by: -1)
            summary.tensorsChanged.append(tensor.name)
        }
        shift(&result.finalNorm)
        let D = graph.config.hiddenSize
        let seed: UInt64 = if case .normal(_, let seed) = initialization { seed } else { 0 }
        for index in result.layers.indices {
            for role in LayerRole.allCases where role.isNorm {
                if result.layers[index][role] != nil { shift(&result.layers[index].byRole[role]!) }
            }
            if var experts = result.layers[index].experts, experts.shared == nil, let size = graph.config.experts?.intermediateSize {
                let prefix = "\(Architecture.transformersLayerPrefix)\(index).mlp.shared_expert"
                let dtype = experts.router.dtype
                let std = Float(graph.config.initializerRange)
                func tensor(_ name: String, _ shape: [Int], _ expression: TensorExpression) -> GraphTensor {
                    summary.tensorsAdded.append(name)
                    summary.parametersAdded += shape.reduce(1, *)
                    return GraphTensor(name: name, shape: shape, dtype: dtype, expression: expression)
                }
                // Streams past the layers' gate streams keep every initialization distinct.
                let stream = UInt64(graph.layers.count + 2 * index)
                experts.shared = MLPTensors(
                    gate: tensor(prefix + ".gate_proj.weight", [size, D], .normal(rowCount: size, rowElements: D, std: std, seed: seed, stream: stream)),
                    up: tensor(prefix + ".up_proj.weight", [size, D], .normal(rowCount: size, rowElements: D, std: std, seed: seed, stream: stream + 1)),
                    down: tensor(prefix + ".down_proj.weight", [D, size], .zeros(rowCount: D, rowElements: size)))
                experts.sharedGate = tensor(prefix + "_gate.weight", [1, D], .zeros(rowCount: 1, rowElements: D))
                result.layers[index].experts = experts
            }
        }
        var config = result.config
        let target: Architecture = config.experts == nil ? .qwen3_5 : .qwen3_5Moe
        config.architecture = target
        config.zeroCenteredNorms = true
        config.partialRotaryFactor = 1.0
        if var experts = config.experts, experts.sharedIntermediateSize == nil {
            experts.sharedIntermediateSize = experts.intermediateSize
            config.experts = experts
        }
        var json = config.json
        json["architectures"] = .array([.string(target.transformersClass)])
        json["model_type"] = .string(target.modelTypes[0])
        json["attn_output_gate"] = .bool(true)
        json["layer_types"] = .array(Array(repeating: .string("full_attention"), count: config.layerCount))
        var rope = json["rope_parameters"]?.objectValue ?? JSONObject()
        if rope["rope_type"] == nil { rope["rope_type"] = .string("default") }
        if rope["rope_theta"] == nil { rope["rope_theta"] = .double(config.rope.theta) }
        rope["partial_rotary_factor"] = .double(1.0)
        json["rope_parameters"] = .object(JSONObject(rope.keys.sorted().map { ($0, rope[$0]!) }))
        var dropped = ["rope_theta", "rope_scaling", "partial_rotary_factor", "max_window_layers", "sliding_window", "use_sliding_window"]
        if let experts = config.experts {
            dropped += ["decoder_sparse_step", "intermediate_size", "mlp_only_layers", "norm_topk_prob", "num_local_experts"]
            json["num_experts"] = .int(Int64(experts.count))
        }
        for key in dropped { json[key] = nil }
        json["head_dim"] = .int(Int64(config.headDim))
        config.json = JSONObject(json.keys.sorted().map { ($0, json[$0]!) })
        result.config = config
        return result
    }

    /// The stock family a checkpoint of the paper's Qwen3 class computes as,
    /// by its switches: q/k norms Qwen3, q/k/v biases Qwen2, a window over
    /// every layer Mistral, else Llama.
    public static func officialLayoutFamily(_ config: ModelConfig) -> Architecture {
        if config.hasQueryKeyNorm { return .qwen3 }
        if config.attentionBias { return .qwen2 }
        if config.slidingLayers.contains(true) { return .mistral }
        return .llama
    }

    /// The separate layout's tensors say what is there; these keys only
    /// inform readers. The official code's `*_attn_output_gate` keys are not
    /// set: they would make it expect gate rows inside q_proj.
    static func separateLayoutConfig(_ config: ModelConfig, json source: JSONObject? = nil) -> JSONObject {
        var json = source ?? config.json
        json["attn_output_gate_layout"] = .string("separate")
        json["attn_output_gate_granularity"] = .string(config.gate?.granularity.rawValue ?? "elementwise")
        if let layers = config.gate?.layers {
            json["attn_output_gate_layers"] = .array(layers.sorted().map { .int(Int64($0)) })
        }
        return JSONObject(json.keys.sorted().map { ($0, json[$0]!) })
    }
}
