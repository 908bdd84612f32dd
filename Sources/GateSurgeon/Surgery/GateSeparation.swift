import JSON

extension ModelGraph {
    /// This graph with a gate in the paper's layout (rows fused into q_proj)
    /// moved to separate tensors, for formats that cannot carry the fused
    /// rows (GGUF); any other graph as it is. The model computes the same:
    /// q_proj keeps its query rows, the gate rows become
    /// `self_attn.gate_proj` / `g_proj`. A checkpoint of the paper's Qwen3
    /// class becomes the family its switches describe (Llama, Mistral,
    /// Qwen2 or Qwen3), as `TransformersGateModule` chooses it.
    /// - Throws: when q_proj's bias has non-zero gate rows (a trainer
    ///   trained them): the separate layout has no gate bias.
    public func withSeparateGate() throws -> ModelGraph {
        guard let gate = config.gate, gate.layout == .gatedAttention,
            let layout = FusedQueryLayout(gate, heads: config.headCount, kvHeads: config.kvHeadCount, headDim: config.headDim)
        else { return self }
        var result = self
        let role: LayerRole = gate.granularity == .elementwise ? .gate : .headwiseGate
        let family = GateInsertion.officialLayoutFamily(config)
        for index in layers.indices {
            var layer = layers[index]
            guard let query = layer[.query], query.rows == layout.rowCount else {
                throw ModelError.unsupportedModel(path: sourcePath, problem: "layer \(index)'s q_proj does not hold the \(gate.layout.rawValue) layout's \(layout.rowCount) rows")
            }
            // Runs in stored order: each part's runs are in its own row order.
            var queryRows: [TensorExpression.RowSegment] = [], gateRows: [TensorExpression.RowSegment] = []
            var offset = 0
            for run in layout.runs {
                let segment = TensorExpression.RowSegment(query.expression, start: offset, count: run.count)
                if run.part == .query { queryRows.append(segment) } else { gateRows.append(segment) }
                offset += run.count
            }
            let queryCount = queryRows.reduce(0) { $0 + $1.count }, gateCount = gateRows.reduce(0) { $0 + $1.count }
            if let bias = layer[.queryBias] {
                let values = try bias.values()
                var queryBias: [Float] = []
                var start = 0
                for run in layout.runs {
                    let slice = values[start..<(start + run.count)]
                    if run.part == .query {
                        queryBias += slice
                    } else if slice.contains(where: { $0 != 0 }) {
                        throw ModelError.unsupportedModel(path: sourcePath, problem: "layer \(index)'s q_proj.bias has non-zero gate rows, which a separate gate (no bias) cannot carry")
                    }
                    start += run.count
                }
                layer[.queryBias] = GraphTensor(name: bias.name, shape: [queryCount], dtype: bias.dtype, expression: .values(queryBias, rowCount: 1))
            }
            layer[.query] = GraphTensor(name: query.name, shape: [queryCount, config.hiddenSize], dtype: query.dtype, expression: .rows(queryRows))
            layer[role] = GraphTensor(name: family.transformersName(role, layer: index), shape: [gateCount, config.hiddenSize],
                                      dtype: query.dtype, expression: .rows(gateRows))
            result.layers[index] = layer
        }
        result.config.architecture = family
        result.config.gate = GateSpec(layout: .separate, granularity: gate.granularity)
        var json = result.config.json
        for key in ["elementwise_attn_output_gate", "headwise_attn_output_gate", "use_qk_norm", "qkv_bias"] { json[key] = nil }
        json["model_type"] = .string(family.modelTypes[0])
        result.config.json = GateInsertion.separateLayoutConfig(result.config, json: json)
        return result
    }
}
