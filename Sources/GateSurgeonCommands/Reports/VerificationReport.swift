import GateSurgeon
import JSON

/// What `verify` prints: the four metrics, the per-layer reports of both
/// models, and which thresholds failed, as text or JSON.
struct VerificationReport {
    let result: VerificationResult
    let pathA: String
    let pathB: String
    let thresholds: VerificationThresholds
    /// Where the tokens came from (ids only, or text and A's tokenizer).
    let prompt: Prompt
    /// What the command warned about on standard error.
    let warnings: [String]

    init(result: VerificationResult, pathA: String, pathB: String, thresholds: VerificationThresholds, prompt: Prompt? = nil,
         warnings: [String] = []) {
        self.result = result
        self.pathA = pathA
        self.pathB = pathB
        self.thresholds = thresholds
        self.prompt = prompt ?? Prompt(ids: result.tokens, text: nil, tokenizer: nil)
        self.warnings = warnings
    }

    var failures: [ThresholdFailure] { thresholds.failures(of: result.comparison) }
    var passed: Bool { failures.isEmpty }

    /// `pass` or `fail` against the thresholds given; `compared` when none
    /// was given, since nothing was then judged (two unrelated models
    /// "pass" an empty list).
    var outcome: String { thresholds.isEmpty ? "compared" : passed ? "pass" : "fail" }

    /// `{"a", "b", "prompt", "tokens", "pieces", "max_abs_diff", "nmse", "mean_kl_divergence",
    /// "top1_agreement", "thresholds", "failures": [{"metric", "value", "limit"}],
    /// "result", "passed", "warnings", "next_tokens": {"a": [...], "b": [...]}, "layers": [{"layer", "a": {...}, "b": {...}}]}`
    /// (`prompt`, `pieces` and the next tokens' `piece` are null without a tokenizer;
    /// `result` is `pass`, `fail` or `compared`, and `passed` null when no threshold was given).
    func json() throws(TokenizerError) -> JSONValue {
        let c = result.comparison
        var limits = JSONObject()
        if let value = thresholds.maxAbsDifference { limits["max_abs"] = .double(Double(value)) }
        if let value = thresholds.maxNMSE { limits["max_nmse"] = .double(value) }
        if let value = thresholds.minTop1Agreement { limits["min_top1"] = .double(value) }
        if let value = thresholds.maxKLDivergence { limits["max_kld"] = .double(value) }
        let layers: [JSONValue] = zip(result.layersA, result.layersB).map { a, b in
            .object(["layer": .int(Int64(a.index)), "a": ForwardReport.json(a), "b": ForwardReport.json(b)])
        }
        return .object([
            "a": .string(pathA),
            "b": .string(pathB),
            "prompt": prompt.text.map { .string($0) } ?? .null,
            "tokens": .array(result.tokens.map { .int(Int64($0)) }),
            "pieces": prompt.tokenizer == nil ? .null : .array(result.tokens.map { .string(prompt.piece($0)) }),
            "vocab_size": .int(Int64(c.vocabSize)),
            "max_abs_diff": ForwardReport.jsonNumber(Double(c.maxAbsDifference)),
            "nmse": ForwardReport.jsonNumber(c.normalizedMeanSquaredError),
            "mean_kl_divergence": ForwardReport.jsonNumber(c.meanKLDivergence),
            "top1_agreement": .double(c.top1Agreement),
            "thresholds": .object(limits),
            "failures": .array(failures.map { failure in
                .object([
                    "metric": .string(failure.metric.rawValue),
                    "value": ForwardReport.jsonNumber(failure.value),
                    "limit": .double(failure.limit),
                ])
            }),
            "result": .string(outcome),
            "passed": thresholds.isEmpty ? .null : .bool(passed),
            "warnings": .array(warnings.map { .string($0) }),
            "next_tokens": .object(["a": try ForwardReport.json(result.nextTokensA, prompt: prompt),
                                    "b": try ForwardReport.json(result.nextTokensB, prompt: prompt)]),
            "layers": .array(layers),
        ])
    }

    /// The metrics, one per line (`name  value`), the per-layer table of both
    /// models, then `result: pass`, `result: fail` (one `FAIL` line per
    /// broken threshold follows) or `result: compared` when no threshold was given.
    func text() throws(TokenizerError) -> String {
        let c = result.comparison
        var lines: [String] = []
        lines.append("a: \(pathA)")
        lines.append("b: \(pathB)")
        let shownTokens = result.tokens.prefix(16).map(String.init).joined(separator: ",") + (result.tokens.count > 16 ? ",..." : "")
        lines += TextTable.lines([
            ["tokens", "\(result.tokens.count) [\(shownTokens)]"],
            ["max |diff|", formatScientific(c.maxAbsDifference)],
            ["nmse", formatScientific(Float(c.normalizedMeanSquaredError))],
            ["mean kl", formatScientific(Float(c.meanKLDivergence))],
            ["top-1 agreement", formatFixed(c.top1Agreement, digits: 4) + " (\(c.top1Matches)/\(c.tokenCount))"],
        ], rightAligned: [])
        if prompt.tokenizer != nil { lines.append(try ForwardReport.tokenLine(result.tokens, prompt: prompt)) }
        lines.append("")
        lines.append("next token, a:")
        lines += try ForwardReport.nextTokenLines(result.nextTokensA, prompt: prompt)
        lines.append("next token, b:")
        lines += try ForwardReport.nextTokenLines(result.nextTokensB, prompt: prompt)
        lines.append("")
        var rows: [[String]] = [["layer", "first-token attn a", "b", "max |h| a", "b", "gate a", "b"]]
        for (a, b) in zip(result.layersA, result.layersB) {
            rows.append([
                String(a.index),
                a.firstTokenAttention.map { formatFixed($0, digits: 4) } ?? "-",
                b.firstTokenAttention.map { formatFixed($0, digits: 4) } ?? "-",
                ForwardReport.short(a.maxActivation), ForwardReport.short(b.maxActivation),
                a.meanGateScore.map { formatFixed($0, digits: 4) } ?? "-",
                b.meanGateScore.map { formatFixed($0, digits: 4) } ?? "-",
            ])
        }
        lines += TextTable.lines(rows, rightAligned: Set(0..<7))
        lines.append("")
        lines.append("result: " + outcome + (thresholds.isEmpty ? " (no thresholds given: --max-abs, --max-nmse, --min-top1 or --max-kld judge the comparison)" : ""))
        for failure in failures { lines.append("FAIL " + Self.describe(failure)) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `--max-kld: 1.50e-01 > 1.00e-01 (off by 5.00e-02)`: the option, the
    /// value, the limit and the margin.
    static func describe(_ failure: ThresholdFailure) -> String {
        let relation = failure.metric.isMinimum ? "<" : ">"
        func format(_ number: Double) -> String {
            failure.metric == .top1Agreement ? formatFixed(number, digits: 4) : formatScientific(Float(number))
        }
        return "\(ThresholdOptions.flag(for: failure.metric)): \(format(failure.value)) \(relation) \(format(failure.limit)) (off by \(format(failure.excess)))"
    }

    /// `--max-kld 0.1, --min-top1 0.75`: the limits in force, as options.
    static func describe(_ thresholds: VerificationThresholds) -> String {
        var parts: [String] = []
        if let value = thresholds.maxAbsDifference { parts.append("--max-abs \(formatMetric(Double(value)))") }
        if let value = thresholds.maxNMSE { parts.append("--max-nmse \(formatMetric(value))") }
        if let value = thresholds.minTop1Agreement { parts.append("--min-top1 \(value)") }
        if let value = thresholds.maxKLDivergence { parts.append("--max-kld \(value)") }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }

    static func formatMetric(_ value: Double) -> String {
        value == 0 ? "0" : formatScientific(Float(value))
    }

    static func formatPercent(_ fraction: Double) -> String {
        "\(Int((fraction * 100).rounded()))%"
    }
}
