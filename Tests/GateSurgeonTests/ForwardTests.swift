import GateSurgeon
import Testing

/// Paths of the reference fixtures (made by fixtures/generate.py with
/// transformers, eager attention, F32, and llama.cpp via llama-cpp-python).
enum ForwardFixtures {
    static let root: String = {
        var path = #filePath
        for _ in 0..<3 { path = Paths.directory(of: path) }
        return Paths.join(path, "fixtures")
    }()

    static func path(_ relative: String) -> String { Paths.join(root, relative) }

    /// Every tensor of a reference safetensors file, as F32 values and shape.
    static func tensors(_ relative: String) throws -> [String: (shape: [Int], values: [Float])] {
        let checkpoint = try Checkpoint(path: path(relative))
        var result: [String: (shape: [Int], values: [Float])] = [:]
        for tensor in checkpoint.tensors {
            result[tensor.name] = (tensor.shape, try TensorExpression.stored(tensor).allValues())
        }
        return result
    }

    static func graph(_ relative: String) throws -> ModelGraph {
        try ModelGraph(checkpoint: Checkpoint(path: path(relative)))
    }

    /// The token ids every reference was computed on.
    static let tokens = [1, 17, 42, 99, 5, 64, 23, 7]

    static func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
        return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }
}

@Suite("Forward pass against transformers")
struct ForwardTests {
    static let models = ["llama", "mistral", "qwen2", "qwen3", "qwen3-sharded", "qwen3_5-gated"]

    /// Logits of every fixture model match transformers' eager F32 forward
    /// pass to 1e-4: the logits are of magnitude ~4 and only summation order
    /// differs (measured at most ~2e-6).
    @Test(arguments: models)
    func logitsMatchTransformers(model: String) throws {
        let reference = try ForwardFixtures.tensors("reference/logits/\(model).safetensors")
        let ids = try #require(reference["input_ids"]).values.map { Int($0) }
        #expect(ids == ForwardFixtures.tokens)
        let graph = try ForwardFixtures.graph("models/\(model)")
        let result = try ForwardPass(graph: graph, options: ForwardOptions(recordsAttention: true, recordsHiddenStates: true)).run(tokens: ids)
        let expected = try #require(reference["logits"])
        #expect(expected.shape == [ids.count, graph.config.vocabSize])
        let difference = ForwardFixtures.maxAbsDifference(result.logits, expected.values)
        print("forward \(model): max |logits - transformers| = \(difference)")
        #expect(difference <= 1e-4)
    }

    /// The per-layer report matches what transformers' attentions and hidden
    /// states give: first-token attention to 1e-5 (probabilities in [0, 1],
    /// F32 softmax), max activation to 1e-4 (values of magnitude ~10).
    @Test(arguments: models)
    func layerReportMatchesTransformers(model: String) throws {
        let reference = try ForwardFixtures.tensors("reference/logits/\(model).safetensors")
        let graph = try ForwardFixtures.graph("models/\(model)")
        let result = try ForwardPass(graph: graph, options: ForwardOptions(recordsAttention: true, recordsHiddenStates: true)).run(tokens: ForwardFixtures.tokens)
        let T = ForwardFixtures.tokens.count, H = graph.config.headCount
        #expect(result.layers.count == graph.config.layerCount)
        for report in result.layers {
            let attention = try #require(reference["attentions.\(report.index)"])
            #expect(attention.shape == [H, T, T])
            var sum = 0.0
            for h in 0..<H {
                for t in 1..<T { sum += Double(attention.values[(h * T + t) * T]) }
            }
            let expected = sum / Double(H * (T - 1))
            let firstToken = try #require(report.firstTokenAttention)
            #expect(abs(firstToken - expected) <= 1e-5, "layer \(report.index)")
            let recorded = try #require(result.attentions?[report.index])
            #expect(ForwardFixtures.maxAbsDifference(recorded, attention.values) <= 1e-5)

            // hidden_states.<i + 1> is the output of layer i, except the last
            // entry, which transformers replaces with the final-norm output.
            let ours = try #require(result.hiddenStates?[report.index + 1])
            #expect(abs(report.maxActivation - ours.reduce(0) { max($0, abs($1)) }) == 0)
            if report.index + 1 < graph.config.layerCount {
                let hidden = try #require(reference["hidden_states.\(report.index + 1)"])
                let expectedMax = hidden.values.reduce(0) { max($0, abs($1)) }
                #expect(abs(report.maxActivation - expectedMax) <= 1e-4, "layer \(report.index)")
                #expect(ForwardFixtures.maxAbsDifference(ours, hidden.values) <= 1e-4)
            }
        }
    }
}
