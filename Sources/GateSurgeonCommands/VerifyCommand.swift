import ArgumentParser
import GateSurgeon
import JSON

import Platform

/// `gatesurgeon verify`: run two models on the same tokens and compare logits.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Compare the logits of two models on the same tokens.",
        discussion: """
            A and B are .safetensors files, .gguf files or model directories with the same
            vocabulary; A is the reference. Both run through the reference F32 forward pass and
            the logits are compared: max |a - b|, NMSE (sum (a-b)^2 / sum a^2), mean KL divergence
            KL(softmax(a) || softmax(b)) per token, and top-1 agreement. The per-layer report
            (first-token attention, max activation, mean gate score) of both is printed too.

            Tokens come from --tokens, or --random-tokens N (uniform, reproducible with --seed);
            the default is 32 random tokens with seed 0.

            Exit status: 0 when every given threshold holds, 1 when one fails (each failure is
            printed with its margin), 2 when the input is bad (unreadable or malformed model,
            mismatched vocabularies, token ids outside the vocabulary).

            Examples:
              gatesurgeon verify model/ gated/ --max-abs 1e-5
              gatesurgeon verify model/ model-q8_0.gguf --random-tokens 64 --seed 7 --min-top1 0.9 --max-kld 0.01
              gatesurgeon verify a.safetensors b.safetensors --config-a a.json --config-b b.json --json
            """
    )

    @Argument(help: "The reference model: a .safetensors file, a .gguf file or a model directory.")
    var a: String

    @Argument(help: "The model to check against it.")
    var b: String

    @Option(help: ArgumentHelp("Token ids, comma-separated.", valueName: "ids"))
    var tokens: TokenList?

    @Option(help: ArgumentHelp("Use this many random token ids (default 32 when --tokens is not given).", valueName: "n"))
    var randomTokens: Int?

    @Option(help: ArgumentHelp("Seed of --random-tokens.", valueName: "s"))
    var seed: UInt64 = 0

    @Flag(help: "Print one JSON document instead of text.")
    var json = false

    @Option(help: ArgumentHelp("Fail when max |a - b| exceeds this.", valueName: "t"))
    var maxAbs: Float?

    @Option(help: ArgumentHelp("Fail when the NMSE exceeds this.", valueName: "t"))
    var maxNmse: Double?

    @Option(help: ArgumentHelp("Fail when the fraction of tokens whose top-1 agrees is below this (0...1).", valueName: "f"))
    var minTop1: Double?

    @Option(help: ArgumentHelp("Fail when the mean KL divergence exceeds this.", valueName: "t"))
    var maxKld: Double?

    @Option(help: ArgumentHelp("The config.json of A when it is safetensors (default: in or beside A).", valueName: "path"))
    var configA: String?

    @Option(help: ArgumentHelp("The config.json of B when it is safetensors (default: in or beside B).", valueName: "path"))
    var configB: String?

    /// Token count when neither --tokens nor --random-tokens is given.
    static let defaultRandomTokens = 32

    var thresholds: VerificationThresholds {
        VerificationThresholds(maxAbsDifference: maxAbs, maxNMSE: maxNmse, minTop1Agreement: minTop1, maxKLDivergence: maxKld)
    }

    func validate() throws {
        if tokens != nil && randomTokens != nil {
            throw ValidationError("give either --tokens or --random-tokens, not both")
        }
        if let randomTokens, randomTokens < 1 {
            throw ValidationError("--random-tokens must be at least 1")
        }
        if let minTop1, !(0...1).contains(minTop1) {
            throw ValidationError("--min-top1 is a fraction between 0 and 1, not \(minTop1)")
        }
        for (flag, value) in [("--max-abs", maxAbs.map(Double.init)), ("--max-nmse", maxNmse), ("--max-kld", maxKld)] {
            if let value, !(value >= 0) {
                throw ValidationError("\(flag) must be a non-negative number, not \(value)")
            }
        }
    }

    func run() throws {
        let result: VerificationResult
        do {
            let graphA = try ModelGraph(checkpoint: Checkpoint(path: a), configPath: configA)
            let graphB = try ModelGraph(checkpoint: Checkpoint(path: b), configPath: configB)
            let ids = tokens?.ids
                ?? Verification.randomTokens(count: randomTokens ?? Self.defaultRandomTokens, vocabSize: graphA.config.vocabSize, seed: seed)
            result = try Verification.compare(graphA, graphB, tokens: ids)
        } catch {
            reportError(error)
            throw ExitCode(2)
        }
        let report = VerificationReport(result: result, pathA: a, pathB: b, thresholds: thresholds)
        if json {
            print(report.json().serialized(.indented))
        } else {
            print(report.text(), terminator: "")
        }
        if !report.passed { throw ExitCode(1) }
    }

    /// Prints `error: ...` on standard error.
    private func reportError(_ error: any Error) {
        var bytes = Array("error: \(error)\n".utf8)
        _ = bytes.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
