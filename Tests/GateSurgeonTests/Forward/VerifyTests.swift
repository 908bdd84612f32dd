import ArgumentParser
import GateSurgeon
import GateSurgeonCommands
import JSON
import Testing

import Platform

@Suite("Logit comparison metrics")
struct LogitComparisonTests {
    @Test func identicalLogitsCompareAsZero() {
        let logits: [Float] = [0.5, -1, 2, 3, 0, 1]
        let comparison = LogitComparison(reference: logits, candidate: logits, vocabSize: 3)
        #expect(comparison.tokenCount == 2)
        #expect(comparison.maxAbsDifference == 0)
        #expect(comparison.normalizedMeanSquaredError == 0)
        #expect(comparison.meanKLDivergence == 0)
        #expect(comparison.top1Agreement == 1)
    }

    /// Hand-computed values; KL in Double, so 1e-12.
    @Test func knownValues() {
        // Token 0: a = [0, 0], b = [ln 3, 0]: KL(p || q) with p = [1/2, 1/2], q = [3/4, 1/4].
        // Token 1: a = [1, 2], b = [1, 3]: same argmax, KL of softmax([1,2]) vs softmax([1,3]).
        let a: [Float] = [0, 0, 1, 2]
        let b: [Float] = [Float(log(3.0)), 0, 1, 3]
        let comparison = LogitComparison(reference: a, candidate: b, vocabSize: 2)
        #expect(comparison.maxAbsDifference == Float(log(3.0)))
        let squaredError = Double(Float(log(3.0))) * Double(Float(log(3.0))) + 1
        #expect(abs(comparison.normalizedMeanSquaredError - squaredError / 5) <= 1e-12)
        let kl0 = 0.5 * log(0.5 / 0.75) + 0.5 * log(0.5 / 0.25)
        let p1 = 1 / (1 + exp(1.0)), q1 = 1 / (1 + exp(2.0))
        let kl1 = p1 * log(p1 / q1) + (1 - p1) * log((1 - p1) / (1 - q1))
        #expect(abs(comparison.meanKLDivergence - (kl0 + kl1) / 2) <= 1e-7)  // ln 3 rounded to F32
        // Token 0: a ties (index 0), b picks index 0; token 1 both index 1.
        #expect(comparison.top1Matches == 2)
    }

    @Test func thresholdsReportEveryFailureWithItsMargin() {
        let comparison = LogitComparison(reference: [0, 1, 1, 0], candidate: [1, 0, 1, 0], vocabSize: 2)
        #expect(comparison.top1Agreement == 0.5)
        let thresholds = VerificationThresholds(maxAbsDifference: 0.5, maxNMSE: 10, minTop1Agreement: 0.75, maxKLDivergence: 1e-3)
        let failures = thresholds.failures(of: comparison)
        #expect(failures.map(\.metric) == [.maxAbsDifference, .top1Agreement, .klDivergence])
        #expect(failures[0].excess == 0.5)
        #expect(failures[1].excess == 0.25)
        #expect(VerificationThresholds().failures(of: comparison).isEmpty)
    }

    @Test func nonFiniteLogitsFailEveryThreshold() {
        let comparison = LogitComparison(reference: [0, 1], candidate: [.nan, 1], vocabSize: 2)
        #expect(comparison.maxAbsDifference.isNaN)
        let thresholds = VerificationThresholds(maxAbsDifference: 1e9, maxNMSE: 1e9, maxKLDivergence: 1e9)
        #expect(thresholds.failures(of: comparison).count == 3)
    }

    @Test func randomTokensAreReproducibleAndInRange() {
        let tokens = Verification.randomTokens(count: 1000, vocabSize: 7, seed: 42)
        #expect(tokens == Verification.randomTokens(count: 1000, vocabSize: 7, seed: 42))
        #expect(tokens != Verification.randomTokens(count: 1000, vocabSize: 7, seed: 43))
        #expect(tokens.allSatisfy { (0..<7).contains($0) })
        #expect(Set(tokens).count == 7)
    }
}

@Suite("forward and verify commands")
struct ForwardVerifyCommandTests {

    static let tokenArgument = Fixtures.referenceTokens.map(String.init).joined(separator: ",")

    /// forward writes transformers' logits (to 1e-4, as in ForwardTests) and
    /// the report as JSON, replacing what was there only with --force.
    @Test func forwardWritesLogitsAndReport() throws {
        let directory = SyntheticModels.temporaryDirectory()
        defer { SyntheticModels.remove(directory) }
        let logitsPath = Paths.join(directory, "logits.safetensors")
        let reportPath = Paths.join(directory, "report.json")
        try SyntheticModels.writeFile(logitsPath, Array("old".utf8))
        let arguments = ["forward", Fixtures.path("models/qwen3_5-gated"), "--tokens", Self.tokenArgument, "--out", logitsPath, "--report", reportPath]
        let refused = CLI.run(arguments)
        #expect(refused.status == 2 && refused.errorOutput.contains("--force"))
        #expect(try Paths.readFile(logitsPath) == Array("old".utf8))
        #expect(!Paths.exists(reportPath), "no output appears unless all of them do")
        try CLI.succeed(arguments + ["--force"])
        let written = try Checkpoint(path: logitsPath)
        let tensor = try #require(written.tensors.first)
        #expect(written.tensors.count == 1 && tensor.name == "logits" && tensor.dtype == .f32 && tensor.shape == [8, 128])
        let reference = try Fixtures.tensors("reference/logits/qwen3_5-gated.safetensors")
        let logits = try TensorExpression.stored(tensor).allValues()
        #expect(Fixtures.maxAbsDifference(logits, try #require(reference["logits"]).values) <= 1e-4)

        let report = try JSONValue.parse(try Paths.readFile(reportPath))
        let layers = try #require(report["layers"]?.arrayValue)
        #expect(layers.count == 2)
        #expect(layers.allSatisfy { $0["mean_gate_score"]?.doubleValue != nil && $0["first_token_attention"]?.doubleValue != nil })
        #expect(Paths.entries(of: directory).sorted() == ["logits.safetensors", "report.json"])
    }

    /// Zero gates with o_proj * 2 verify at --max-abs 1e-5 (see GatedForwardTests).
    @Test(arguments: ["qwen3-gated-attention-headwise", "qwen3-separate-elementwise"])
    func verifyPassesForAnEquivalentModel(layout: String) throws {
        let code = CLI.run(["verify", Fixtures.path("models/qwen3"), Fixtures.path("reference/gated/\(layout)"),
                                      "--random-tokens", "12", "--seed", "3", "--max-abs", "1e-5", "--max-nmse", "1e-10",
                                      "--min-top1", "1", "--max-kld", "1e-10", "--json"]).status
        #expect(code == 0)
    }

    @Test func verifyFailsABrokenThresholdWithExitCode1() throws {
        // BF16 GGUF against F32: max |diff| ~3e-2 (GGUFForwardTests), far above 1e-4.
        let code = CLI.run(["verify", Fixtures.path("models/qwen3"), Fixtures.path("gguf/qwen3-bf16.gguf"),
                                      "--tokens", Self.tokenArgument, "--max-abs", "1e-4"]).status
        #expect(code == 1)
        let lenient = CLI.run(["verify", Fixtures.path("models/qwen3"), Fixtures.path("gguf/qwen3-bf16.gguf"),
                                         "--tokens", Self.tokenArgument, "--max-abs", "0.1"]).status
        #expect(lenient == 0)
    }

    /// Without a threshold nothing is judged: two unrelated models are
    /// "compared", not "passed"; with one, the result says pass or fail.
    @Test func verifyWithoutThresholdsOnlyCompares() throws {
        let unrelated = ["verify", Fixtures.path("models/qwen3"), Fixtures.path("models/llama"), "--tokens", Self.tokenArgument]
        let text = try CLI.succeed(unrelated).output
        #expect(text.contains("\nresult: compared (no thresholds given"), "\(text)")
        #expect(!text.contains("pass"), "\(text)")
        let document = try JSONValue.parse(Array(try CLI.succeed(unrelated + ["--json"]).output.utf8))
        #expect(document["result"] == .string("compared") && document["passed"] == .null)
        let judged = try CLI.succeed(unrelated + ["--max-abs", "1000"])
        #expect(judged.output.contains("\nresult: pass\n"), "\(judged.output)")
        let failed = CLI.run(unrelated + ["--max-abs", "1e-3", "--json"])
        #expect(failed.status == 1)
        let failedDocument = try JSONValue.parse(Array(failed.output.utf8))
        #expect(failedDocument["result"] == .string("fail") && failedDocument["passed"] == .bool(false))
    }

    @Test func verifyRejectsBadInputWithExitCode2() throws {
        let directory = SyntheticModels.temporaryDirectory()
        defer { SyntheticModels.remove(directory) }
        let good = Fixtures.path("models/qwen3")

        // Not a safetensors file.
        let garbage = Paths.join(directory, "broken.safetensors")
        try SyntheticModels.writeFile(garbage, Array("this is not a checkpoint at all".utf8))
        try SyntheticModels.writeFile(Paths.join(directory, "config.json"), Array(try Paths.readFile(Paths.join(good, "config.json"))))
        #expect(CLI.run(["verify", good, garbage]).status == 2)

        // A header length past the end of the file.
        let truncated = Paths.join(directory, "truncated.safetensors")
        try SyntheticModels.writeFile(truncated, [0xFF, 0, 0, 0, 0, 0, 0, 0, UInt8(ascii: "{")])
        #expect(CLI.run(["verify", truncated, good]).status == 2)

        // Missing file.
        #expect(CLI.run(["verify", good, Paths.join(directory, "missing.safetensors")]).status == 2)

        // Token outside the vocabulary.
        #expect(CLI.run(["verify", good, good, "--tokens", "1,500"]).status == 2)
    }

    @Test func verifyRejectsMismatchedVocabulariesWithExitCode2() throws {
        let small = SyntheticModels.temporaryDirectory(), large = SyntheticModels.temporaryDirectory()
        defer { SyntheticModels.remove(small); SyntheticModels.remove(large) }
        try SyntheticModels.writeLlama(to: small, vocab: 64)
        try SyntheticModels.writeLlama(to: large, vocab: 96)
        #expect(CLI.run(["verify", small, large, "--tokens", "1,2,3"]).status == 2)
        #expect(CLI.run(["verify", small, small, "--tokens", "1,2,3", "--max-abs", "0"]).status == 0)
    }

    @Test func verifyValidatesItsOptions() {
        let good = Fixtures.path("models/qwen3")
        #expect(CLI.run(["verify", good, good, "--tokens", "1", "--random-tokens", "4"]).status == 2)
        #expect(CLI.run(["verify", good, good, "--min-top1", "1.5"]).status == 2)
        #expect(CLI.run(["verify", good, good, "--tokens", "1,x"]).status == 2)
        #expect(CLI.run(["forward", good, "--tokens", "-1"]).status == 2)
    }
}
