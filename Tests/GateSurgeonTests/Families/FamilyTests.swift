import GateSurgeon
import Testing

/// The families beyond Llama and Qwen, each end to end against the real
/// ecosystem (fixtures/README.md, "Phi-3, OLMo 2, OLMo 3, Granite,
/// SmolLM3" and "Gemma 2 and 3"): tiny random transformers models, their
/// converter GGUFs and llama.cpp's logits of those files.
@Suite("Model families end to end")
struct FamilyTests {
    static let models = ["gemma2", "gemma3", "phi3", "phi3-longrope", "olmo2", "olmo3", "granite", "smollm3"]

    /// Logits, attention weights and hidden states of every family model
    /// match transformers' eager F32 pass: logits of magnitude ~4 to 1e-4
    /// (summation order only), weights to 1e-5, hidden states to 1e-4.
    @Test(arguments: models)
    func forwardMatchesTransformers(model: String) throws {
        let reference = try Fixtures.tensors("reference/logits/\(model).safetensors")
        let graph = try Fixtures.graph("models/\(model)")
        let result = try ForwardPass(graph: graph, options: ForwardOptions(recordsAttention: true, recordsHiddenStates: true))
            .run(tokens: Fixtures.referenceTokens)
        #expect(Fixtures.maxAbsDifference(result.logits, try #require(reference["logits"]).values) <= 1e-4)
        #expect(result.layers.count == graph.config.layerCount)
        for report in result.layers {
            let attention = try #require(reference["attentions.\(report.index)"])
            #expect(Fixtures.maxAbsDifference(try #require(result.attentions?[report.index]), attention.values) <= 1e-5, "layer \(report.index)")
            if report.index + 1 < graph.config.layerCount {
                let hidden = try #require(reference["hidden_states.\(report.index + 1)"])
                #expect(Fixtures.maxAbsDifference(try #require(result.hiddenStates?[report.index + 1]), hidden.values) <= 1e-4, "layer \(report.index)")
            }
        }
        let embeddings = try #require(reference["hidden_states.0"])
        #expect(Fixtures.maxAbsDifference(try #require(result.hiddenStates?[0]), embeddings.values) <= 1e-6)
    }

    /// LongRoPE picks its factor set by sequence length, as transformers
    /// does: four tokens (not past the original context of 4) use the short
    /// factors, eight the long ones; the two sets move the logits by ~2.6.
    @Test func longRoPEPicksFactorsBySequenceLength() throws {
        let reference = try Fixtures.tensors("reference/logits/phi3-longrope.safetensors")
        let ids = try #require(reference["short_rope.input_ids"]).values.map { Int($0) }
        #expect(ids.count == 4)
        let graph = try Fixtures.graph("models/phi3-longrope")
        let result = try ForwardPass(graph: graph).run(tokens: ids)
        #expect(Fixtures.maxAbsDifference(result.logits, try #require(reference["short_rope.logits"]).values) <= 1e-4)
        let eight = try ForwardPass(graph: graph).run(tokens: Fixtures.referenceTokens)
        #expect(Fixtures.maxAbsDifference(Array(eight.logits.prefix(4 * graph.config.vocabSize)), result.logits) > 0.5)
    }

    static let outtypes: [(String, [String])] = [
        ("f32", ["--dtype", "f32"]), ("f16", ["--dtype", "f16"]), ("bf16", ["--dtype", "bf16"]), ("q8_0", ["--quant", "q8_0", "--pure"]),
    ]

    /// safetensors to GGUF gives the converter's file: tensor names, order,
    /// types, shapes, bytes, architecture and tokenizer keys.
    @Test(arguments: models.flatMap { model in outtypes.map { (model, $0.0, $0.1) } })
    func convertMatchesTheConverter(model: String, outtype: String, options: [String]) throws {
        try ConvertTests.expectConverterParity(model: model, outtype: outtype, options: options)
    }

    /// GGUF back to safetensors gives the original tensors byte for byte
    /// and a config with the same hyperparameters.
    @Test(arguments: models)
    func roundTripThroughGGUFIsExact(model: String) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let back = Paths.join(directory, "back")
        try CLI.succeed(["convert", Fixtures.path("gguf/\(model)-f32.gguf"), back])
        let original = try SafetensorsFile(path: Fixtures.path("models/\(model)/model.safetensors"))
        let roundTrip = try SafetensorsCheckpoint(directory: back)
        #expect(Set(roundTrip.tensors.map(\.name)) == Set(original.tensors.map(\.name)))
        let before = try Fixtures.graph("models/\(model)").config
        for tensor in original.tensors {
            let other = try #require(roundTrip.tensors.first { $0.name == tensor.name })
            #expect(other.shape == tensor.shape, "\(tensor.name)")
            let isNorm = tensor.name == "model.norm.weight" || before.architecture.layerRole(of: tensor.name)?.role.isNorm == true
            if before.zeroCenteredNorms && isNorm {
                // Stored as w + 1 in F32 (as the converter stores them): back within half an ulp of w + 1.
                let values = try TensorExpression.stored(tensor).allValues(), back = try TensorExpression.stored(other).allValues()
                #expect(zip(values, back).allSatisfy { abs($0 - $1) <= ($0 + 1).ulp / 2 }, "\(tensor.name)")
            } else {
                #expect(other.withBytes { Array($0) } == tensor.withBytes { Array($0) }, "\(tensor.name)")
            }
        }
        let after = try ModelGraph(checkpoint: Checkpoint(path: back)).config
        #expect(after.family == before.family)
        #expect(after.slidingLayers == before.slidingLayers && after.slidingWindow == before.slidingWindow)
        #expect(after.ropeLayers == before.ropeLayers && after.rotaryDimensions == before.rotaryDimensions)
        #expect(after.embeddingScale == before.embeddingScale && after.residualMultiplier == before.residualMultiplier)
        #expect(after.attentionScale == before.attentionScale && after.logitDivisor == before.logitDivisor)
        #expect(after.tieWordEmbeddings == before.tieWordEmbeddings && after.hasQueryKeyNorm == before.hasQueryKeyNorm)
        // The directory runs as the source does: transformers' logits.
        let reference = try Fixtures.tensors("reference/logits/\(model).safetensors")
        let result = try ForwardPass(graph: ModelGraph(checkpoint: Checkpoint(path: back))).run(tokens: Fixtures.referenceTokens)
        #expect(Fixtures.maxAbsDifference(result.logits, try #require(reference["logits"]).values) <= 1e-4)
    }

    /// The bound per GGUF type on the distance to llama.cpp's logits of the
    /// same file: ggml rounds activations to F16 / BF16 / Q8 for its dot
    /// products, the reference pass keeps them in F32 (as for Llama and Qwen,
    /// `GGUFForwardTests`). Largest measured over the eight models: f32 3.8e-6
    /// (SmolLM3), f16 8.5e-3, bf16 4.9e-2, q8_0 0.31, q4_0 0.16, q4_k (Q5_0
    /// rows) 0.34 (Gemma 3). Gemma's F32 files
    /// differ more: llama.cpp computes GELU through an F16 table
    /// (ggml-cpu/vec.h), 1.2e-3 and 1.7e-3 measured, bound 5e-3.
    static let llamaCppBounds: [(String, Float)] = [("f32", 1e-5), ("f16", 2e-2), ("bf16", 0.1), ("q8_0", 0.5), ("q4_0", 0.3), ("q4_k", 0.5)]

    static func llamaCppBound(model: String, type: String, bound: Float) -> Float {
        model.hasPrefix("gemma") && type == "f32" ? 5e-3 : bound
    }

    /// Every family GGUF computes llama.cpp's logits within the type's bound.
    /// llama.cpp switches Phi-3's sliding window off (src/models/phi3.cpp);
    /// the file's window is applied here as transformers applies it, so for
    /// `phi3` the comparison runs with the window off, as llama.cpp does.
    @Test(arguments: models.flatMap { model in llamaCppBounds.map { (model, $0.0, $0.1) } })
    func ggufMatchesLlamaCpp(model: String, type: String, bound: Float) throws {
        let name = "\(model)-\(type)"
        let expected = try #require(try Fixtures.tensors("reference/llamacpp/\(name).safetensors")["logits"])
        var graph = try Fixtures.graph("gguf/\(name).gguf")
        if model == "phi3" {
            #expect(graph.config.slidingLayers.allSatisfy { $0 } && graph.config.slidingWindow == 5)
            graph.config.slidingLayers = Array(repeating: false, count: graph.config.layerCount)
        }
        let result = try ForwardPass(graph: graph).run(tokens: Fixtures.referenceTokens)
        #expect(Fixtures.maxAbsDifference(result.logits, expected.values) <= Self.llamaCppBound(model: model, type: type, bound: bound), "\(name)")
    }

    /// The window read from Phi-3's GGUF is applied: the file computes
    /// transformers' windowed logits.
    @Test func phi3WindowComesBackFromGGUF() throws {
        let reference = try Fixtures.tensors("reference/logits/phi3.safetensors")
        let result = try ForwardPass(graph: Fixtures.graph("gguf/phi3-f32.gguf")).run(tokens: Fixtures.referenceTokens)
        #expect(Fixtures.maxAbsDifference(result.logits, try #require(reference["logits"]).values) <= 1e-4)
    }

    /// Zero-initialized gates in the separate layout (the layout every
    /// family carries) keep the logits exactly, both granularities.
    @Test(arguments: models.flatMap { model in GateGranularity.allCases.map { (model, $0) } })
    func zeroGatesKeepTheLogits(model: String, granularity: GateGranularity) throws {
        let graph = try Fixtures.graph("models/\(model)")
        let (gated, summary) = try GateInsertion(layout: .separate, granularity: granularity).apply(to: graph)
        #expect(summary.gatedLayers == Array(0..<graph.config.layerCount))
        let before = try ForwardPass(graph: graph).run(tokens: Fixtures.referenceTokens)
        let after = try ForwardPass(graph: gated).run(tokens: Fixtures.referenceTokens)
        #expect(Fixtures.maxAbsDifference(after.logits, before.logits) == 0)
        for report in after.layers { #expect(report.meanGateScore == 0.5) }
    }

    /// Where llama.cpp derives or hard-codes what a config sets, a GGUF
    /// written of a config that says otherwise is warned about: the fixtures
    /// were chosen so that llama.cpp computes them as transformers does,
    /// except Phi-3's window, which llama.cpp switches off.
    @Test func llamaCppDifferencesAreReported() throws {
        for model in Self.models {
            let differences = try Fixtures.graph("models/\(model)").config.llamaCppDifferences
            #expect(differences == (model == "phi3" ? ["llama.cpp switches this family's sliding window (5) off: beyond it, it attends to every earlier token"] : []), "\(model)")
        }
        var gemma = try Fixtures.graph("models/gemma2").config
        gemma.queryPreAttentionScalar = 256
        #expect(gemma.llamaCppDifferences == ["llama.cpp scales queries by 1/sqrt(16), not by query_pre_attn_scalar 256.0^-1/2"])
        var smollm3 = try Fixtures.graph("models/smollm3").config
        smollm3.ropeLayers = Array(repeating: true, count: smollm3.layerCount)
        #expect(smollm3.llamaCppDifferences == ["llama.cpp skips RoPE in every 4th layer, not in the config's no_rope_layers"])
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let outcome = CLI.run(["convert", Fixtures.path("models/phi3"), Paths.join(directory, "phi3.gguf")])
        #expect(outcome.status == 0)
        #expect(outcome.errorOutput.contains("sliding window (5) off") && outcome.errorOutput.contains("llama.cpp will compute something else"))
    }
}
