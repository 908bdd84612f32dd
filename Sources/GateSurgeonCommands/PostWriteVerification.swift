import ArgumentParser
import GateSurgeon

/// The shared end of add-gate and convert: print the plan, write with
/// progress, print the summary, and with `--verify` check the output
/// against `input`.
func writeModel(
    _ graph: ModelGraph, plan: [PlannedTensor], to output: String, options: WriteOptions,
    verifyingAgainst input: ModelGraph?, thresholds: VerificationThresholds?
) throws {
    for line in describePlan(plan) { print(line) }
    let progress = Progress()
    let result = try ModelWriter.write(graph, plan: plan, to: output, options: options) { item, index, total in
        progress.update("[\(index + 1)/\(total)] \(item.outputName) -> \(item.dtype.name)")
    }
    progress.finish()
    for line in describeSummary(result) { print(line) }
    if let input {
        try PostWriteVerification.run(input: input, output: output, configPath: result.configPath, thresholds: thresholds)
    }
}

/// The `--verify` of add-gate and convert: run the input and the written
/// output on the same tokens and hold the output to thresholds fitting the
/// operation.
enum PostWriteVerification {
    static let tokenCount = 32

    /// Exact when nothing lossy happened (every tensor copied, widened, or
    /// transformed by exact operations); otherwise bounds for the lossiest
    /// type written.
    static func thresholds(for plan: [PlannedTensor], initialization: GateInitialization = .zero) -> VerificationThresholds? {
        if case .normal = initialization { return nil }
        var worst: DType?
        for item in plan where !item.preservesValues {
            if worst == nil || rank(item.dtype) > rank(worst!) { worst = item.dtype }
        }
        guard let worst else { return VerificationThresholds(maxAbsDifference: 0) }
        let kl: Double
        switch worst {
        case .f16: kl = 1e-3
        case .bf16, .q8_0: kl = 1e-2
        case .q6_K: kl = 2e-2
        case .q5_0, .q5_1, .q5_K: kl = 5e-2
        case .q4_0, .q4_1, .q4_K, .iq4_NL, .iq4_XS: kl = 0.1
        default: kl = 0.5
        }
        return VerificationThresholds(minTop1Agreement: kl <= 0.1 ? 0.75 : 0.5, maxKLDivergence: kl)
    }

    private static func rank(_ dtype: DType) -> Double { 32 - dtype.bitsPerElement }

    /// Runs the check and prints one line; throws ExitCode(1) when it fails.
    static func run(input: ModelGraph, output: String, configPath: String?, thresholds: VerificationThresholds?) throws {
        let written = try ModelGraph(checkpoint: try Checkpoint(path: output), configPath: configPath)
        let tokens = Verification.randomTokens(count: tokenCount, vocabSize: input.config.vocabSize, seed: 0)
        let result = try Verification.compare(input, written, tokens: tokens)
        let c = result.comparison
        let summary = "max |diff| \(formatMetric(Double(c.maxAbsDifference))), NMSE \(formatMetric(c.normalizedMeanSquaredError)), mean KL \(formatMetric(c.meanKLDivergence)), top-1 \(formatPercent(c.top1Agreement)) over \(tokens.count) tokens"
        guard let thresholds else {
            print("verify: \(summary) (no threshold: a random gate init changes the outputs by design)")
            return
        }
        let failures = thresholds.failures(of: c)
        if failures.isEmpty {
            let exact = thresholds.maxAbsDifference == 0 ? " - output computes exactly what the input computed" : ""
            print("verify: OK: \(summary)\(exact)")
        } else {
            print("verify: FAILED: \(summary)")
            for failure in failures { print("  \(failure)") }
            throw ExitCode(1)
        }
    }

    static func formatMetric(_ value: Double) -> String {
        value == 0 ? "0" : formatScientific(Float(value))
    }

    static func formatPercent(_ fraction: Double) -> String {
        "\(Int((fraction * 100).rounded()))%"
    }
}
