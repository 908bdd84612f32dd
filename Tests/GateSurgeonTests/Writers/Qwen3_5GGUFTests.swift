import GateSurgeon
import Testing

/// Qwen3.5 and Qwen3.5-MoE in GGUF (llama.cpp's qwen35 / qwen35moe, as its
/// converter writes them with --no-mtp): written like the converter, read
/// back, run. llama.cpp (0.3.36) itself aborts on these files when no layer
/// is linear attention (GGML_ASSERT(buffer), fixtures/reference/llamacpp/qwen35-status.json),
/// so the reference is transformers.
@Suite struct Qwen3_5GGUFTests {
    static let cases: [(model: String, source: String)] = [
        ("qwen3_5-gated", "models/qwen3_5-gated"),
        ("qwen3_moe-to-qwen3_5_moe", "reference/gated/qwen3_moe-to-qwen3_5_moe"),
    ]

    /// Tensors (the fused gate inside attn_q, norms stored w + 1,
    /// post_attention_norm) and every architecture key equal the converter's.
    @Test(arguments: cases.flatMap { model, source in
        [("f32", ["--dtype", "f32"]), ("bf16", ["--dtype", "bf16"]), ("q8_0", ["--quant", "q8_0", "--pure"])].map { (model, source, $0.0, $0.1) }
    })
    func writesWhatTheConverterWrites(model: String, source: String, outtype: String, options: [String]) throws {
        try ConvertTests.expectConverterParity(model: model, source: source, outtype: outtype, options: options)
    }

    /// The converter's F32 file runs as transformers ran the checkpoint (1e-4, as every model).
    @Test(arguments: cases)
    func readsTheConvertersFile(model: String, source: String) throws {
        let graph = try Fixtures.graph("gguf/\(model)-f32.gguf")
        #expect(graph.config.gate == GateSpec(layout: .qwen3Next, granularity: .elementwise))
        #expect(graph.config.zeroCenteredNorms)
        let reference = try Fixtures.tensors("reference/logits/\(model).safetensors")
        let result = try ForwardPass(graph: graph).run(tokens: Fixtures.referenceTokens)
        #expect(Fixtures.maxAbsDifference(result.logits, try #require(reference["logits"]).values) <= 1e-4)
    }

    /// `convert ... x.gguf --verify` reads back what it wrote and passes
    /// exactly; GGUF -> safetensors gives the checkpoint back byte for byte,
    /// except the zero-centred norms: GGUF stores w + 1 (as llama.cpp's
    /// converter does, in F32), so w comes back as (w + 1) - 1, within half
    /// an ulp of 1 (6e-8) of w.
    @Test(arguments: cases)
    func roundTripsVerify(model: String, source: String) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let gguf = Paths.join(directory, "x.gguf")
        let outcome = try CLI.succeed(["convert", Fixtures.path(source), gguf, "--verify"])
        #expect(outcome.output.contains("verify: OK"))
        try CLI.succeed(["convert", gguf, Paths.join(directory, "back/"), "--verify"])
        let original = try Checkpoint(path: Fixtures.path(source))
        let back = try Checkpoint(path: Paths.join(directory, "back"))
        for tensor in original.tensors {
            let other = try #require(back.tensors.first { $0.name == tensor.name }, "\(tensor.name)")
            if tensor.name.hasSuffix("norm.weight") {
                let difference = Fixtures.maxAbsDifference(try TensorExpression.stored(other).allValues(), try TensorExpression.stored(tensor).allValues())
                #expect(difference <= 6e-8, "\(tensor.name)")
            } else {
                #expect(other.withBytes { Array($0) } == tensor.withBytes { Array($0) }, "\(tensor.name)")
            }
        }
    }
}
