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
    case layoutNeedsFamily(layout: GateLayout, family: ModelFamily, needed: String)
    case partialLayersUnsupported(layout: GateLayout)
    case layerOutOfRange(layer: Int, layerCount: Int)
    case headwiseUnsupported(layout: GateLayout)

    public var description: String {
        switch self {
        case .alreadyGated(let path, let evidence):
            "\(path): already gated (\(evidence)); refusing to add a second gate"
        case .layoutNeedsFamily(let layout, let family, let needed):
            "the \(layout.rawValue) layout needs \(needed) model; this is \(family.rawValue)"
        case .partialLayersUnsupported(let layout):
            "the \(layout.rawValue) layout gates every layer (its config has one switch for all layers); only the separate layout gates some"
        case .layerOutOfRange(let layer, let layerCount):
            "there is no layer \(layer): the model has layers 0-\(layerCount - 1)"
        case .headwiseUnsupported(let layout):
            "the \(layout.rawValue) layout has elementwise gates only"
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
/// o_proj) into an ungated model graph.
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

    /// The layout used when none is given: the paper's own for Qwen3, a
    /// separate tensor (which every architecture can carry) otherwise.
    public static func defaultLayout(for family: ModelFamily) -> GateLayout {
        family == .qwen3 ? .gatedAttention : .separate
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
        switch layout {
        case .gatedAttention where config.family != .qwen3:
            throw GateInsertionError.layoutNeedsFamily(layout: layout, family: config.family, needed: "a Qwen3")
        case .qwen3Next where config.family != .qwen3:
            throw GateInsertionError.layoutNeedsFamily(layout: layout, family: config.family, needed: "a Qwen3 (q/k-norm)")
        case .qwen3Next where granularity == .headwise:
            throw GateInsertionError.headwiseUnsupported(layout: layout)
        default:
            break
        }
    }

    static func evidence(for gate: GateSpec, config: ModelConfig) -> String {
        switch gate.layout {
        case .gatedAttention: "config.json sets \(gate.granularity == .elementwise ? "elementwise" : "headwise")_attn_output_gate"
        case .qwen3Next: config.family == .qwen3_5 ? "model_type \(config.family.rawValue) with attn_output_gate" : "config.json sets attn_output_gate"
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
        let (H, K, d, D) = (config.headCount, config.kvHeadCount, config.headDim, config.hiddenSize)
        let G = H / K
        let gateRows = config.gateRows(granularity)
        let perHead = granularity == .elementwise ? d : 1

        for index in graph.layers.indices where layers?.contains(index) ?? true {
            var layer = graph.layers[index]
            let query = layer.attention.query
            let gate = gateExpression(rows: gateRows, columns: D, layer: index)
            let prefix = "model.layers.\(index).self_attn."
            switch layout {
            case .gatedAttention, .qwen3Next:
                // Interleave query rows and gate rows: per KV group for the
                // official code, per head for Qwen3-Next.
                let (blocks, queryBlock, gateBlock) = layout == .gatedAttention ? (K, G * d, G * perHead) : (H, d, d)
                var segments: [TensorExpression.RowSegment] = []
                for block in 0..<blocks {
                    segments.append(.init(query.expression, start: block * queryBlock, count: queryBlock))
                    segments.append(.init(gate, start: block * gateBlock, count: gateBlock))
                }
                layer.attention.query = GraphTensor(name: query.name, shape: [H * d + gateRows, D], dtype: query.dtype, expression: .rows(segments))
                summary.tensorsChanged.append(query.name)
                if let bias = layer.attention.queryBias {
                    let values = try bias.values()
                    var fused: [Float] = []
                    for block in 0..<blocks {
                        fused += values[(block * queryBlock)..<((block + 1) * queryBlock)]
                        fused += [Float](repeating: 0, count: gateBlock)
                    }
                    layer.attention.queryBias = GraphTensor(name: bias.name, shape: [fused.count], dtype: bias.dtype, expression: .values(fused, rowCount: 1))
                    summary.tensorsChanged.append(bias.name)
                }
            case .separate:
                let name = prefix + (granularity == .elementwise ? "gate_proj.weight" : "g_proj.weight")
                layer.attention.gate = GraphTensor(name: name, shape: [gateRows, D], dtype: query.dtype, expression: gate)
                summary.tensorsAdded.append(name)
            }
            if compensate {
                let output = layer.attention.output
                layer.attention.output.expression = .scaled(output.expression, by: 2)
                summary.tensorsChanged.append(output.name)
            }
            summary.parametersAdded += gateRows * D
            summary.gatedLayers.append(index)
            result.layers[index] = layer
        }

        result.config.gate = GateSpec(layout: layout, granularity: granularity, layers: layers.flatMap { $0.count == config.layerCount ? nil : $0 })
        if layout == .qwen3Next {
            result = GateInsertion.convertToQwen35(result)
        }
        result.config.json = GateInsertion.updatedConfig(result.config, layout: layout, granularity: granularity)
        return (result, summary)
    }

    private func gateExpression(rows: Int, columns: Int, layer: Int) -> TensorExpression {
        switch initialization {
        case .zero:
            return .zeros(rowCount: rows, rowElements: columns)
        case .normal(let std, let seed):
            return .normal(rowCount: rows, rowElements: columns, std: std, seed: seed, stream: UInt64(layer))
        }
    }

    /// Qwen3 -> Qwen3.5: every RMSNorm weight w is stored as w - 1 (Qwen3.5
    /// multiplies by 1 + w).
    static func convertToQwen35(_ graph: ModelGraph) -> ModelGraph {
        var result = graph
        func shift(_ tensor: inout GraphTensor) {
            tensor.expression = .offset(tensor.expression, by: -1)
        }
        shift(&result.finalNorm)
        for index in result.layers.indices {
            shift(&result.layers[index].inputNorm)
            shift(&result.layers[index].postAttentionNorm)
            if result.layers[index].attention.queryNorm != nil { shift(&result.layers[index].attention.queryNorm!) }
            if result.layers[index].attention.keyNorm != nil { shift(&result.layers[index].attention.keyNorm!) }
        }
        result.config.family = .qwen3_5
        result.config.zeroCenteredNorms = true
        result.config.partialRotaryFactor = 1.0
        return result
    }

    /// The config.json keys each runtime reads to find the gate.
    static func updatedConfig(_ config: ModelConfig, layout: GateLayout, granularity: GateGranularity) -> JSONObject {
        var json = config.json
        switch layout {
        case .gatedAttention:
            // The official modeling_qwen3.py reads these; it has no default for qkv_bias.
            json[granularity == .elementwise ? "elementwise_attn_output_gate" : "headwise_attn_output_gate"] = .bool(true)
            json["use_qk_norm"] = .bool(true)
            json["qkv_bias"] = .bool(config.attentionBias)
        case .qwen3Next:
            json["architectures"] = .array([.string(Architecture.qwen3_5.transformersClass)])
            json["model_type"] = .string(Architecture.qwen3_5.modelTypes[0])
            json["attn_output_gate"] = .bool(true)
            json["layer_types"] = .array(Array(repeating: .string("full_attention"), count: config.layerCount))
            var rope = json["rope_parameters"]?.objectValue ?? JSONObject()
            if rope["rope_type"] == nil { rope["rope_type"] = .string("default") }
            if rope["rope_theta"] == nil { rope["rope_theta"] = .double(config.ropeTheta) }
            rope["partial_rotary_factor"] = .double(1.0)
            var ordered = JSONObject()
            for key in rope.keys.sorted() { ordered[key] = rope[key] }
            json["rope_parameters"] = .object(ordered)
            for key in ["rope_theta", "rope_scaling", "partial_rotary_factor", "max_window_layers", "sliding_window", "use_sliding_window"] {
                json[key] = nil
            }
            json["head_dim"] = .int(Int64(config.headDim))
        case .separate:
            // The gate tensors themselves say what is there; these keys only
            // inform readers. The official code's *_attn_output_gate keys are
            // not set: they would make it expect gate rows inside q_proj.
            json["attn_output_gate_layout"] = .string("separate")
            json["attn_output_gate_granularity"] = .string(granularity.rawValue)
            if let layers = config.gate?.layers {
                json["attn_output_gate_layers"] = .array(layers.sorted().map { .int(Int64($0)) })
            }
        }
        return JSONObject(json.keys.sorted().map { ($0, json[$0]!) })
    }
}
