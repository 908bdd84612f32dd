import GateSurgeon
import Testing

@Suite("Forward pass against transformers")
struct ForwardTests {
    static let models = ["llama", "mistral", "qwen2", "qwen3", "qwen3-sharded", "qwen3_5-gated"]

    /// Logits of every fixture model match transformers' eager F32 forward
    /// pass to 1e-4: the logits are of magnitude ~4 and only summation order
    /// differs (measured at most ~2e-6).
    @Test(arguments: models)
    func logitsMatchTransformers(model: String) throws {
        let reference = try Fixtures.tensors("reference/logits/\(model).safetensors")
        let ids = try #require(reference["input_ids"]).values.map { Int($0) }
        #expect(ids == Fixtures.referenceTokens)
        let graph = try Fixtures.graph("models/\(model)")
        let result = try ForwardPass(graph: graph, options: ForwardOptions(recordsAttention: true, recordsHiddenStates: true)).run(tokens: ids)
        let expected = try #require(reference["logits"])
        #expect(expected.shape == [ids.count, graph.config.vocabSize])
        let difference = Fixtures.maxAbsDifference(result.logits, expected.values)
        #expect(difference <= 1e-4)
    }

    /// The per-layer report matches what transformers' attentions and hidden
    /// states give: first-token attention to 1e-5 (probabilities in [0, 1],
    /// F32 softmax), max activation to 1e-4 (values of magnitude ~10).
    @Test(arguments: models)
    func layerReportMatchesTransformers(model: String) throws {
        let reference = try Fixtures.tensors("reference/logits/\(model).safetensors")
        let graph = try Fixtures.graph("models/\(model)")
        let result = try ForwardPass(graph: graph, options: ForwardOptions(recordsAttention: true, recordsHiddenStates: true)).run(tokens: Fixtures.referenceTokens)
        let T = Fixtures.referenceTokens.count, H = graph.config.headCount
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
            #expect(Fixtures.maxAbsDifference(recorded, attention.values) <= 1e-5)

            // hidden_states.<i + 1> is the output of layer i, except the last
            // entry, which transformers replaces with the final-norm output.
            let ours = try #require(result.hiddenStates?[report.index + 1])
            #expect(abs(report.maxActivation - ours.reduce(0) { max($0, abs($1)) }) == 0)
            if report.index + 1 < graph.config.layerCount {
                let hidden = try #require(reference["hidden_states.\(report.index + 1)"])
                let expectedMax = hidden.values.reduce(0) { max($0, abs($1)) }
                #expect(abs(report.maxActivation - expectedMax) <= 1e-4, "layer \(report.index)")
                #expect(Fixtures.maxAbsDifference(ours, hidden.values) <= 1e-4)
            }
        }
    }
}

@Suite("Forward pass of gated checkpoints")
struct GatedForwardTests {
    /// Qwen3.5 (qwen3-next layout, zero-centred norms) converted from qwen3
    /// with zero gates: transformers' Qwen3_5ForCausalLM logits to 1e-4, as
    /// for every model (measured ~2e-6).
    @Test func qwen3NextMatchesTransformers() throws {
        let reference = try Fixtures.tensors("reference/logits/qwen3-next-from-qwen3.safetensors")
        let graph = try Fixtures.graph("reference/gated/qwen3-next")
        #expect(graph.config.gate == GateSpec(layout: .qwen3Next, granularity: .elementwise))
        let result = try ForwardPass(graph: graph).run(tokens: Fixtures.referenceTokens)
        #expect(Fixtures.maxAbsDifference(result.logits, try #require(reference["logits"]).values) <= 1e-4)
        for report in result.layers { #expect(report.meanGateScore == 0.5) }
    }

    /// Zero gates with o_proj * 2 compute what plain qwen3 computes: sigmoid(0)
    /// = 0.5 and the doubling are exact, so only o_proj's summation over
    /// doubled weights and halved inputs remains; 1e-5 on logits of ~4
    /// (measured 0: the products are bit-identical).
    @Test(arguments: [
        "qwen3-next", "qwen3-gated-attention-elementwise", "qwen3-gated-attention-headwise",
        "qwen3-separate-elementwise", "qwen3-separate-headwise",
    ])
    func zeroGateKeepsQwen3Logits(layout: String) throws {
        let plain = try ForwardPass(graph: Fixtures.graph("models/qwen3")).run(tokens: Fixtures.referenceTokens)
        let graph = try Fixtures.graph("reference/gated/\(layout)")
        #expect(graph.config.gate != nil)
        let gated = try ForwardPass(graph: graph).run(tokens: Fixtures.referenceTokens)
        let difference = Fixtures.maxAbsDifference(gated.logits, plain.logits)
        #expect(difference <= 1e-5)
        for (ours, theirs) in Fixtures.pairs(gated.layers, plain.layers) {
            #expect(ours.meanGateScore == 0.5)
            #expect(theirs.meanGateScore == nil)
            #expect(abs(ours.maxActivation - theirs.maxActivation) <= 1e-5)
            #expect(abs((ours.firstTokenAttention ?? -1) - (theirs.firstTokenAttention ?? -2)) <= 1e-6)
        }
    }

    /// The qwen3_5-gated fixture has random gate rows: a real mean gate score.
    @Test func randomGateHasAMeanScore() throws {
        let result = try ForwardPass(graph: Fixtures.graph("models/qwen3_5-gated")).run(tokens: Fixtures.referenceTokens)
        for report in result.layers {
            let score = try #require(report.meanGateScore)
            #expect(score > 0 && score < 1 && score != 0.5)
        }
    }
}

@Suite("Forward pass of GGUF files against llama.cpp")
struct GGUFForwardTests {
    static let models = ["llama", "mistral", "qwen2", "qwen3"]

    /// Runs `gguf/<name>.gguf` and compares with llama.cpp's logits
    /// (llama-cpp-python, F32 KV cache); returns max |diff|.
    @discardableResult
    static func check(_ name: String, tolerance: Float) throws -> Float {
        let reference = try Fixtures.tensors("reference/llamacpp/\(name).safetensors")
        let expected = try #require(reference["logits"])
        let graph = try Fixtures.graph("gguf/\(name).gguf")
        #expect(expected.shape == [Fixtures.referenceTokens.count, graph.config.vocabSize])
        let result = try ForwardPass(graph: graph).run(tokens: Fixtures.referenceTokens)
        let difference = Fixtures.maxAbsDifference(result.logits, expected.values)
        #expect(difference <= tolerance, "\(name)")
        return difference
    }

    /// F32 weights: only summation order and llama.cpp's RoPE (powf per
    /// step, F32 angle) differ. Measured at most 3.2e-6 (llama).
    @Test(arguments: models)
    func f32(model: String) throws { try Self.check("\(model)-f32", tolerance: 1e-5) }

    /// F16 weights: ggml's CPU F16 matmul also rounds the activations to F16,
    /// which the reference pass does not. Measured at most 4.5e-3 (mistral).
    @Test(arguments: models)
    func f16(model: String) throws { try Self.check("\(model)-f16", tolerance: 1e-2) }

    /// BF16 weights: ggml rounds the activations to BF16 (8-bit mantissa).
    /// Measured at most 3.4e-2 (mistral).
    @Test(arguments: models)
    func bf16(model: String) throws { try Self.check("\(model)-bf16", tolerance: 6e-2) }

    /// Q8_0: ggml quantizes the activations to Q8_0 for its dot products; we
    /// multiply dequantized weights by F32 activations. Measured at most
    /// 0.143 (llama; qwen3 0.066) with the numerics branch's dequantizer.
    @Test(arguments: models)
    func q8_0(model: String) throws { try Self.check("\(model)-q8_0", tolerance: 0.25) }

    /// 4- and 5-bit types, llama only (activations again quantized by ggml).
    /// llama-q4_k holds Q5_0: llama-quantize falls back for rows of 32, not a
    /// multiple of 256. Measured: q4_0 0.246, q4_1 0.127, q5_0 0.123,
    /// q5_1 0.121, q4_k 0.123.
    @Test(arguments: [("q4_0", Float(0.4)), ("q4_1", 0.2), ("q5_0", 0.2), ("q5_1", 0.2), ("q4_k", 0.2)])
    func lowBitTypes(type: String, tolerance: Float) throws { try Self.check("llama-\(type)", tolerance: tolerance) }
}

@Suite("Logits of the last position only")
struct LastPositionLogitsTests {
    /// lm_head on the last row alone gives that row's logits bit for bit
    /// (each logit is the same product over the hidden size) and the same
    /// next tokens; `logits(at:)` still addresses it by position.
    @Test func lastRowEqualsTheFullRunsLastRow() throws {
        let graph = try Fixtures.graph("models/qwen2")
        let tokens = Fixtures.referenceTokens
        let full = try ForwardPass(graph: graph).run(tokens: tokens)
        var options = ForwardOptions()
        options.logitsOfLastPositionOnly = true
        let last = try ForwardPass(graph: graph, options: options).run(tokens: tokens)
        #expect(last.logits.count == full.vocabSize && last.firstLogitPosition == tokens.count - 1)
        #expect(Array(last.logits(at: tokens.count - 1)).map(\.bitPattern) == Array(full.logits(at: tokens.count - 1)).map(\.bitPattern))
        #expect(last.nextTokens(count: 5) == full.nextTokens(count: 5))
    }
}
