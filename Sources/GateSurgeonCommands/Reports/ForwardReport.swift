import GateSurgeon
import JSON

/// What `forward` prints: the per-layer measurements of a forward pass, as
/// an aligned table with bar charts or as JSON.
struct ForwardReport {
    let result: ForwardResult
    let modelPath: String
    let prompt: Prompt

    /// Width of a bar in characters.
    static let barWidth = 12
    /// How many next tokens are shown.
    static let nextTokenCount = 5

    init(result: ForwardResult, modelPath: String, prompt: Prompt) {
        self.result = result
        self.modelPath = modelPath
        self.prompt = prompt
    }

    /// `{"model", "prompt", "tokens", "pieces", "vocab_size", "next_tokens": [{"id", "piece", "text",
    /// "logit", "probability"}], "layers": [{"layer", "first_token_attention", "max_activation",
    /// "mean_gate_score"}]}`; `prompt` and `pieces` are null without a tokenizer, unmeasured or
    /// non-finite values are null. With `warnings` (the `--json` document, not
    /// the `--report` file) also `"warnings": [...]`, what standard error said.
    func json(warnings: JSONValue? = nil) throws(TokenizerError) -> JSONValue {
        var document: JSONObject = [
            "model": .string(modelPath),
            "prompt": prompt.text.map { .string($0) } ?? .null,
            "tokens": .array(result.tokens.map { .int(Int64($0)) }),
            "pieces": prompt.tokenizer == nil ? .null : .array(result.tokens.map { .string(prompt.piece($0)) }),
            "vocab_size": .int(Int64(result.vocabSize)),
            "next_tokens": try Self.json(result.nextTokens(count: Self.nextTokenCount), prompt: prompt),
            "layers": .array(result.layers.map { ForwardReport.json($0) }),
        ]
        if let warnings { document["warnings"] = warnings }
        return .object(document)
    }

    static func json(_ ranked: [RankedToken], prompt: Prompt) throws(TokenizerError) -> JSONValue {
        var tokens: [JSONValue] = []
        for token in ranked {
            tokens.append(.object([
                "id": .int(Int64(token.id)),
                "piece": prompt.tokenizer == nil ? .null : .string(prompt.piece(token.id)),
                "text": prompt.tokenizer == nil ? .null : .string(try prompt.text(of: token.id)),
                "logit": jsonNumber(Double(token.logit)),
                "probability": jsonNumber(token.probability),
            ]))
        }
        return .array(tokens)
    }

    /// `tokens  4: 1 <s>, 504 ▁The, ...` (ids with their pieces when a
    /// tokenizer made them; at most `limit` shown).
    static func tokenLine(_ ids: [Int], prompt: Prompt, limit: Int = 32) throws(TokenizerError) -> String {
        var shown: [String] = []
        for id in ids.prefix(limit) { shown.append(prompt.tokenizer == nil ? String(id) : "\(id) \(quoted(try prompt.shown(id)))") }
        return "tokens \(ids.count): " + shown.joined(separator: ", ") + (ids.count > limit ? ", ..." : "")
    }

    /// Lines `  1. 12345 "piece"  p 0.8312  logit 21.30`.
    static func nextTokenLines(_ ranked: [RankedToken], prompt: Prompt) throws(TokenizerError) -> [String] {
        var rows: [[String]] = []
        for (rank, token) in ranked.enumerated() {
            rows.append(["  \(rank + 1).", String(token.id), prompt.tokenizer == nil ? "" : quoted(try prompt.shown(token.id)),
                         "p " + formatFixed(token.probability, digits: 4), "logit " + short(token.logit)])
        }
        return TextTable.lines(rows, rightAligned: [0, 1])
    }

    /// A piece in double quotes, control characters escaped.
    static func quoted(_ piece: String) -> String {
        var text = "\""
        for character in ErrorMessages.oneLine(piece) {
            if character == "\"" { text += "\\" }
            text.append(character)
        }
        return text + "\""
    }

    static func json(_ layer: LayerReport) -> JSONValue {
        .object([
            "layer": .int(Int64(layer.index)),
            "first_token_attention": jsonNumber(layer.firstTokenAttention),
            "max_activation": jsonNumber(Double(layer.maxActivation)),
            "mean_gate_score": jsonNumber(layer.meanGateScore),
        ])
    }

    static func jsonNumber(_ value: Double?) -> JSONValue {
        guard let value, value.isFinite else { return .null }
        return .double(value)
    }

    /// One header line, then one row per layer:
    /// `layer  first-token attn  bar  max |h|  bar  gate`. The attention bar
    /// spans 0...1, the activation bar 0...the largest layer's value.
    func text() throws(TokenizerError) -> String {
        var lines: [String] = []
        lines.append("\(modelPath): \(result.tokenCount) tokens, \(result.layers.count) layers, vocab \(result.vocabSize)")
        if prompt.tokenizer != nil { lines.append(try Self.tokenLine(result.tokens, prompt: prompt)) }
        let largest = result.layers.map(\.maxActivation).filter(\.isFinite).max() ?? 0
        let rows: [[String]] = [["layer", "first-token attn", "", "max |h|", "", "gate"]] + result.layers.map { layer in
            [
                String(layer.index),
                layer.firstTokenAttention.map { formatFixed($0, digits: 4) } ?? "-",
                ForwardReport.bar(layer.firstTokenAttention ?? 0, of: 1),
                ForwardReport.short(layer.maxActivation),
                ForwardReport.bar(Double(layer.maxActivation), of: Double(largest)),
                layer.meanGateScore.map { formatFixed($0, digits: 4) } ?? "-",
            ]
        }
        lines += TextTable.lines(rows, rightAligned: [0, 1, 3, 5])
        lines.append("next token:")
        lines += try Self.nextTokenLines(result.nextTokens(count: Self.nextTokenCount), prompt: prompt)
        return lines.joined(separator: "\n") + "\n"
    }

    /// A bar of `barWidth` cells in eighths: `value / maximum` of it filled.
    static func bar(_ value: Double, of maximum: Double) -> String {
        guard value.isFinite, maximum > 0, value > 0 else { return String(repeating: " ", count: barWidth) }
        let eighths = Int((min(1, value / maximum) * Double(barWidth * 8)).rounded())
        let partial = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"][eighths % 8]
        let text = String(repeating: "█", count: eighths / 8) + partial
        return text + String(repeating: " ", count: barWidth - eighths / 8 - (partial.isEmpty ? 0 : 1))
    }

    /// Four significant digits, fixed-point while readable.
    static func short(_ value: Float) -> String {
        let magnitude = abs(value)
        guard value.isFinite else { return "\(value)" }
        switch magnitude {
        case 0: return "0"
        case 1000...: return magnitude < 1e6 ? formatFixed(Double(value), digits: 1) : formatScientific(value)
        case 1...: return formatFixed(Double(value), digits: 3)
        case 0.001...: return formatFixed(Double(value), digits: 4)
        default: return formatScientific(value)
        }
    }

}
