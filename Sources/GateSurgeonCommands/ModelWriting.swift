import GateSurgeon
import JSON

/// The shared end of `add-gate` and `convert`: show the plan, write with
/// progress, commit, show the summary, and with `--verify` check the output
/// against the input. In JSON mode the same facts make one document.
struct ModelWriting {
    var console: Console
    var report: ReportOptions
    /// Command-specific facts that lead the JSON document (command, input, gate...).
    var document: JSONObject
    /// Warnings the command found before writing (explicit types that fell back).
    var explicitTypeFallbacks: [String] = []

    /// Writes a model graph; with `input`, verifies the output against it.
    /// With `dryRun`, shows what would be written and writes nothing.
    /// - Parameter thresholds: the limits `--verify` holds the output to;
    ///   nil means report the metrics without judging them.
    func write(
        _ graph: ModelGraph, plan: [PlannedTensor], to target: OutputTarget, options: WriteOptions, dryRun: Bool = false,
        transaction: OutputTransaction, verifyingAgainst input: ModelGraph?, thresholds: VerificationThresholds?
    ) throws {
        try perform(plan: plan, target: target, policy: options.policy, transaction: transaction, verifyingAgainst: input, thresholds: thresholds,
                    dryRun: dryRun ? { try ModelWriter.dryRun(graph, plan: plan, to: target, options: options, checkedIn: transaction) } : nil) { progress in
            try ModelWriter.write(graph, plan: plan, to: target, options: options, in: transaction, progress: progress)
        }
    }

    /// Writes a checkpoint converted tensor by tensor (no verification: the
    /// architecture is not one the forward pass runs).
    func write(_ conversion: TensorConversion, to target: OutputTarget, options: WriteOptions, dryRun: Bool = false, transaction: OutputTransaction) throws {
        try perform(plan: conversion.plan, target: target, policy: options.policy, transaction: transaction, verifyingAgainst: nil, thresholds: nil,
                    dryRun: dryRun ? { try conversion.dryRun(to: target, options: options, checkedIn: transaction) } : nil) { progress in
            try conversion.write(to: target, options: options, in: transaction, progress: progress)
        }
    }

    /// - Parameter dryRun: for a dry run, what would be written; the plan
    ///   and that summary are shown and nothing is written.
    private func perform(
        plan: [PlannedTensor], target: OutputTarget, policy: ConversionPolicy, transaction: OutputTransaction,
        verifyingAgainst input: ModelGraph?, thresholds: VerificationThresholds?, dryRun: (() throws -> WriteSummary)?,
        writing: (@escaping @Sendable (PlannedTensor, Int, Int) -> Void) throws -> WriteSummary
    ) throws {
        // What can be refused without heavy work is refused before the plan is shown.
        try ModelWriter.validate(plan, path: target.path)
        var document = self.document
        document["output"] = .string(target.path)
        document["format"] = .string(target.checkpointFormat.rawValue)
        document["plan"] = PlanReport.json(plan)
        if report.showsPlan {
            for line in PlanReport.lines(plan) { console.print(line) }
        }
        var warnings = Warnings(console: console)
        for pattern in policy.keep where !plan.contains(where: { policy.keepMatches(pattern, $0) }) {
            warnings.warn("--keep '\(pattern)' matches no tensor")
        }
        for warning in explicitTypeFallbacks { warnings.warn(warning) }
        if let dryRun {
            let summary = try dryRun()
            document["output"] = .string(summary.outputPath)
            document["dry_run"] = .bool(true)
            if !report.json {
                for line in WriteReport.lines(summary, dryRun: true) { console.print(line) }
            }
            for warning in WriteReport.warnings(summary) { warnings.warn(warning) }
            document["summary"] = WriteReport.json(summary, warnings: warnings.json)
            if report.json { console.print(JSONValue.object(document).serialized(.indented)) }
            return
        }
        let totalBytes = plan.reduce(0) { $0 + $1.byteCount }
        let offsets = plan.reduce(into: [0]) { $0.append($0.last! + $1.byteCount) }
        let progress = ProgressReporter(console: console, label: "write", total: totalBytes, steps: plan.count, measure: .bytes, quiet: report.quiet)
        let summary = try writing { item, index, _ in
            progress.begin(step: index, done: offsets[index], item: "\(item.outputName) -> \(item.dtype.name)")
        }
        try transaction.commit()
        progress.finish()
        for path in transaction.removedStalePartials { warnings.warn("removed \(path), left by an interrupted run") }
        document["output"] = .string(summary.outputPath)
        if !report.json {
            for line in WriteReport.lines(summary) { console.print(line) }
        }
        for warning in WriteReport.warnings(summary) { warnings.warn(warning) }
        document["summary"] = WriteReport.json(summary, warnings: warnings.json)

        var failed = false
        if let input {
            let verification = try PostWriteVerification.run(input: input, output: summary.outputPath, thresholds: thresholds, console: console, quiet: report.quiet)
            document["verification"] = verification.json
            failed = !verification.passed
            if !report.json {
                for line in verification.lines { console.print(line) }
            }
        }
        if report.json { console.print(JSONValue.object(document).serialized(.indented)) }
        if failed { throw VerificationFailed() }
    }
}

/// The `--verify` of add-gate and convert: run the input and the written
/// output on the same tokens and hold the output to limits fitting what
/// the write did.
enum PostWriteVerification {
    static let tokenCount = 32

    struct Outcome {
        var passed: Bool
        var lines: [String]
        var json: JSONValue
    }

    /// Exact when nothing lossy happened (every tensor copied, widened, or
    /// transformed by exact operations); otherwise bounds for the lossiest
    /// type written; none for a random gate init (it changes the outputs by design).
    static func defaultThresholds(for plan: [PlannedTensor], initialization: GateInitialization = .zero) -> VerificationThresholds? {
        if case .normal = initialization { return nil }
        var worst: DType?
        for item in plan where !item.preservesValues {
            if worst == nil || item.dtype.bitsPerElement < worst!.bitsPerElement { worst = item.dtype }
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

    static func run(input: ModelGraph, output: String, thresholds: VerificationThresholds?, console: Console, quiet: Bool) throws -> Outcome {
        let written = try ModelGraph(checkpoint: try Checkpoint(path: output))
        let tokens = Verification.randomTokens(count: tokenCount, vocabSize: input.config.vocabSize, seed: 0)
        let progress = ProgressReporter(console: console, label: "verify", total: 2 * input.layers.count, steps: 2 * input.layers.count,
                                        measure: .steps, quiet: quiet, delay: .seconds(1))
        let result = try Verification.compare(input, written, tokens: tokens) { model, layer in
            let step = model * input.layers.count + layer
            progress.begin(step: step, done: step, item: "\(model == 0 ? "input" : "output") layer \(layer)")
        }
        progress.finish()
        let c = result.comparison
        let metrics = "max |diff| \(VerificationReport.formatMetric(Double(c.maxAbsDifference))), NMSE \(VerificationReport.formatMetric(c.normalizedMeanSquaredError)), mean KL \(VerificationReport.formatMetric(c.meanKLDivergence)), top-1 \(VerificationReport.formatPercent(c.top1Agreement)) over \(tokens.count) tokens"
        let json = try VerificationReport(result: result, pathA: input.sourcePath, pathB: output, thresholds: thresholds ?? VerificationThresholds()).json()
        guard let thresholds else {
            return Outcome(passed: true, lines: ["verify: \(metrics) (no thresholds: a random gate init changes the outputs by design)"], json: json)
        }
        let limits = "limits: " + VerificationReport.describe(thresholds)
        let failures = thresholds.failures(of: c)
        if failures.isEmpty {
            let exact = thresholds.maxAbsDifference == 0 ? " - the output computes exactly what the input computed" : ""
            return Outcome(passed: true, lines: ["verify: OK: \(metrics)\(exact) (\(limits))"], json: json)
        }
        return Outcome(passed: false, lines: ["verify: FAILED: \(metrics) (\(limits))"] + failures.map { "  " + VerificationReport.describe($0) }, json: json)
    }
}
