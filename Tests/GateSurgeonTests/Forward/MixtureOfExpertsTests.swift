import GateSurgeon
import JSON
import Testing

/// Mixture-of-experts models against transformers (tiny random Qwen3-MoE,
/// Mixtral, Qwen2-MoE with router margins of at least 0.25, so no rounding
/// can flip an expert choice) and against llama.cpp on the converter's GGUFs.
@Suite struct MixtureOfExpertsTests {
    static let models = ["qwen3_moe", "qwen3_moe-norm_topk_false", "mixtral", "qwen2_moe"]

    /// Logits to 1e-4 (as for the dense models: magnitude ~4, summation
    /// order only), the same experts chosen per token and layer, hidden
    /// states to 1e-4.
    @Test(arguments: models + ["qwen3_moe-to-qwen3_5_moe"])
    func matchesTransformers(model: String) throws {
        let path = model == "qwen3_moe-to-qwen3_5_moe" ? "reference/gated/\(model)" : "models/\(model)"
        let reference = try Fixtures.tensors("reference/logits/\(model).safetensors")
        let graph = try Fixtures.graph(path)
        let experts = try #require(graph.config.experts)
        let result = try ForwardPass(graph: graph, options: ForwardOptions(recordsHiddenStates: true)).run(tokens: Fixtures.referenceTokens)
        #expect(Fixtures.maxAbsDifference(result.logits, try #require(reference["logits"]).values) <= 1e-4)
        for report in result.layers {
            let chosen = try #require(reference["experts.\(report.index)"]).values.map { Int($0) }
            #expect(report.experts == chosen, "layer \(report.index)")
            #expect(chosen.count == Fixtures.referenceTokens.count * experts.perToken)
            if report.index + 1 < graph.config.layerCount {
                let hidden = try #require(reference["hidden_states.\(report.index + 1)"])
                #expect(Fixtures.maxAbsDifference(try #require(result.hiddenStates?[report.index + 1]), hidden.values) <= 1e-4)
            }
        }
    }

    /// The converter's GGUFs against llama.cpp's logits, with the bounds of
    /// the dense models (GGUFForwardTests): llama.cpp quantizes the
    /// activations of its F16/BF16/Q dot products, the forward pass does
    /// not. Measured worst per type over the three models: f32 1.8e-6,
    /// f16 4.9e-3, bf16 3.4e-2, q8_0 0.148, q4_0 0.121, q4_k (Q5_0) 0.119.
    @Test(arguments: [
        ("qwen3_moe-f32", Float(1e-5)), ("mixtral-f32", 1e-5), ("qwen2_moe-f32", 1e-5),
        ("qwen3_moe-f16", 1e-2), ("mixtral-f16", 1e-2), ("qwen2_moe-f16", 1e-2),
        ("qwen3_moe-bf16", 6e-2), ("mixtral-bf16", 6e-2), ("qwen2_moe-bf16", 6e-2),
        ("qwen3_moe-q8_0", 0.25), ("mixtral-q8_0", 0.25), ("qwen2_moe-q8_0", 0.25),
        ("qwen3_moe-q4_0", 0.25), ("mixtral-q4_0", 0.25), ("qwen2_moe-q4_0", 0.25),
        ("qwen3_moe-q4_k", 0.25), ("mixtral-q4_k", 0.25), ("qwen2_moe-q4_k", 0.25),
    ])
    func ggufMatchesLlamaCpp(name: String, tolerance: Float) throws {
        try GGUFForwardTests.check(name, tolerance: tolerance)
    }

    /// llama.cpp renormalises qwen3moe's top-k weights whatever the source
    /// config said (GGUF has no key for it), and so does a GGUF read here:
    /// the converted norm_topk_prob=false model matches llama.cpp, not
    /// transformers.
    @Test func ggufRoutingFollowsLlamaCpp() throws {
        let graph = try Fixtures.graph("gguf/qwen3_moe-norm_topk_false-f32.gguf")
        #expect(graph.config.experts?.normalizesTopK == true)
        try GGUFForwardTests.check("qwen3_moe-norm_topk_false-f32", tolerance: 1e-5)
    }

    /// safetensors -> GGUF equals the converter tensor for tensor
    /// (experts stacked into ffn_*_exps in its order) and key for key.
    @Test(arguments: ["qwen3_moe", "mixtral", "qwen2_moe"].flatMap { model in
        [("f32", ["--dtype", "f32"]), ("f16", ["--dtype", "f16"]), ("bf16", ["--dtype", "bf16"]), ("q8_0", ["--quant", "q8_0", "--pure"])]
            .map { (model, $0.0, $0.1) }
    })
    func convertMatchesTheConverter(model: String, outtype: String, options: [String]) throws {
        try ConvertTests.expectConverterParity(model: model, outtype: outtype, options: options)
    }

    /// Quantizing the F32 GGUF equals llama-quantize --pure, 3-D expert
    /// tensors included (rows of 32: Q4_K falls back to Q5_0).
    @Test(arguments: ["qwen3_moe", "mixtral", "qwen2_moe"].flatMap { model in ["q4_0", "q4_k"].map { (model, $0) } })
    func quantizingMatchesLlamaQuantize(model: String, type: String) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let output = Paths.join(directory, "out.gguf")
        try CLI.succeed(["convert", Fixtures.path("gguf/\(model)-f32.gguf"), output, "--quant", type, "--pure"])
        try ConvertTests.expectSameTensors(output, Fixtures.path("gguf/\(model)-\(type).gguf"), ordered: false)
    }

    /// safetensors -> GGUF -> safetensors gives the per-expert tensors back byte for byte.
    @Test(arguments: ["qwen3_moe", "mixtral", "qwen2_moe"])
    func roundTripThroughGGUF(model: String) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        try CLI.succeed(["convert", Fixtures.path("models/\(model)"), Paths.join(directory, "m.gguf")])
        try CLI.succeed(["convert", Paths.join(directory, "m.gguf"), Paths.join(directory, "back/")])
        let original = try SafetensorsFile(path: Fixtures.path("models/\(model)/model.safetensors"))
        let back = try Checkpoint(path: Paths.join(directory, "back"))
        #expect(Set(back.tensors.map(\.name)) == Set(original.tensors.map(\.name)))
        for tensor in original.tensors {
            let other = try #require(back.tensors.first { $0.name == tensor.name })
            #expect(other.shape == tensor.shape && other.withBytes { Array($0) } == tensor.withBytes { Array($0) }, "\(tensor.name)")
        }
        let before = try Fixtures.graph("models/\(model)").config
        let after = try ModelGraph(checkpoint: back).config
        #expect(after.family == before.family && after.experts?.count == before.experts?.count)
        #expect(after.experts?.intermediateSize == before.experts?.intermediateSize)
        #expect(after.experts?.sharedIntermediateSize == before.experts?.sharedIntermediateSize)
    }

    /// Each expert of a GGUF is a slab of the stacked tensor: written back
    /// to GGUF, the stacks are byte copies again.
    @Test func stackedExpertsCopyBackUnchanged() throws {
        let graph = try Fixtures.graph("gguf/qwen2_moe-q8_0.gguf")
        let plan = try ModelWriter.plan(graph, format: .gguf, policy: ConversionPolicy())
        let stacked = try #require(plan.first { $0.outputName == "blk.1.ffn_down_exps.weight" })
        #expect(stacked.expression.storedTensor?.name == "blk.1.ffn_down_exps.weight")
        #expect(stacked.tensor.shape == [4, 32, 32])
    }

    /// The router and the [1, D] shared-expert gate stay F32 when quantizing,
    /// as llama.cpp keeps them.
    @Test func routersStayF32() throws {
        let graph = try Fixtures.graph("models/qwen2_moe")
        let plan = try ModelWriter.plan(graph, format: .gguf, policy: ConversionPolicy(quantization: QuantizationRequest(options: QuantizationOptions(preset: .q8_0))))
        for item in plan where item.outputName.hasSuffix("ffn_gate_inp.weight") || item.outputName.hasSuffix("ffn_gate_inp_shexp.weight") {
            #expect(item.dtype == .f32, "\(item.outputName)")
        }
        #expect(plan.first { $0.outputName == "blk.0.ffn_gate_exps.weight" }?.dtype == .q8_0)
    }

    /// A model that renormalises its top-k weights unlike llama.cpp gets a warning.
    @Test func routingThatLlamaCppWouldChangeIsReported() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let outcome = try CLI.succeed(["convert", Fixtures.path("models/qwen3_moe-norm_topk_false"), Paths.join(directory, "x.gguf")])
        #expect(outcome.errorOutput.contains("llama.cpp always does for this architecture"), "\(outcome.errorOutput)")
        let fine = try CLI.succeed(["convert", Fixtures.path("models/qwen3_moe"), Paths.join(directory, "y.gguf")])
        #expect(!fine.errorOutput.contains("renormalise"))
    }
}

/// add-gate on mixture-of-experts models in the separate layout, the one
/// every family carries: exact, GGUF included.
@Suite struct MixtureOfExpertsGateTests {
    @Test(arguments: [
        ["models/mixtral", "gated/"], ["models/qwen2_moe", "gated/", "--granularity", "headwise"],
        ["models/qwen3_moe", "gated/", "--layout", "separate"], ["gguf/qwen2_moe-q8_0.gguf", "gated.gguf"],
    ])
    func separateGatesVerifyExactly(arguments: [String]) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let outcome = try CLI.succeed(["add-gate", Fixtures.path(arguments[0]), Paths.join(directory, arguments[1]), "--verify"] + arguments.dropFirst(2))
        #expect(outcome.output.contains("computes exactly what the input computed"), "\(outcome.output)")
    }
}
