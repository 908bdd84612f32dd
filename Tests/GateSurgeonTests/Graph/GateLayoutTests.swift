import GateSurgeon
import Testing

/// The three gate layouts are three row orders of the same weights. Taking
/// transformers' Qwen3_5ForCausalLM fixture (non-zero gates, qwen3-next
/// layout), re-expressing it as a Qwen3 model in the official layout or
/// with a separate gate tensor, and running the forward pass must give
/// transformers' logits: this checks the official and separate layouts
/// with gates that matter, not only with zero gates.
@Suite struct GateLayoutTests {
    static func relayout(_ source: ModelGraph, as layout: GateLayout) throws -> ModelGraph {
        var graph = source
        let config = source.config
        let (H, K, d) = (config.headCount, config.kvHeadCount, config.headDim)
        let G = H / K
        graph.config.architecture = .qwen3
        graph.config.zeroCenteredNorms = false
        graph.config.gate = GateSpec(layout: layout, granularity: .elementwise)
        // Qwen3.5 stores RMSNorm weights as w - 1.
        func unshift(_ tensor: inout GraphTensor) { tensor.expression = .offset(tensor.expression, by: 1) }
        unshift(&graph.finalNorm)
        for index in graph.layers.indices {
            var layer = graph.layers[index]
            for role in [LayerRole.attentionNorm, .feedForwardNorm, .queryNorm, .keyNorm] { unshift(&layer.byRole[role]!) }
            // qwen3-next: per head h, d query rows then d gate rows.
            let query = try #require(layer[.query])
            let fused = query.expression
            func queryRows(_ head: Int) -> TensorExpression.RowSegment { .init(fused, start: head * 2 * d, count: d) }
            func gateRows(_ head: Int) -> TensorExpression.RowSegment { .init(fused, start: head * 2 * d + d, count: d) }
            switch layout {
            case .gatedAttention:
                var segments: [TensorExpression.RowSegment] = []
                for group in 0..<K {
                    segments += (group * G..<(group + 1) * G).map(queryRows)
                    segments += (group * G..<(group + 1) * G).map(gateRows)
                }
                layer[.query]?.expression = .rows(segments)
            case .separate:
                layer[.query] = GraphTensor(name: query.name, shape: [H * d, config.hiddenSize],
                                            dtype: .f32, expression: .rows((0..<H).map(queryRows)))
                layer[.gate] = GraphTensor(name: "model.layers.\(index).self_attn.gate_proj.weight", shape: [H * d, config.hiddenSize],
                                                   dtype: .f32, expression: .rows((0..<H).map(gateRows)))
            case .qwen3Next:
                Issue.record("qwen3-next is the source layout")
            }
            graph.layers[index] = layer
        }
        return graph
    }

    @Test(arguments: [GateLayout.gatedAttention, .separate])
    func nonZeroGatesMatchTransformersInEveryLayout(layout: GateLayout) throws {
        let source = try ModelGraph(checkpoint: try Checkpoint(path: Fixtures.path("models/qwen3_5-gated")))
        #expect(source.config.gate?.layout == .qwen3Next)
        let graph = try Self.relayout(source, as: layout)
        let result = try ForwardPass(graph: graph).run(tokens: Fixtures.referenceTokens)
        let reference = try Fixtures.tensors("reference/logits/qwen3_5-gated.safetensors")
        let expected = try #require(reference["logits"]).values
        // Same tolerance as the transformers comparison: F32 rounding only;
        // (w - 1) + 1 in the norms adds at most an ulp of the weight.
        #expect(Fixtures.maxAbsDifference(result.logits, expected) <= 1e-4)
        // The gate is doing something: its mean score is not the zero-init 0.5.
        #expect(result.layers.allSatisfy { abs(($0.meanGateScore ?? 0.5) - 0.5) > 1e-3 })
    }
}
