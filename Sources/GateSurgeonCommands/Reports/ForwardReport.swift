import GateSurgeon
import JSON

/// What `forward` prints: the per-layer measurements of a forward pass, as
/// an aligned table with bar charts or as JSON.
struct ForwardReport {
    let result: ForwardResult
    let modelPath: String

    /// Width of a bar in characters.
    static let barWidth = 12

    init(result: ForwardResult, modelPath: String) {
        self.result = result
        self.modelPath = modelPath
    }

    /// `{"model", "tokens", "vocab_size", "layers": [{"layer", "first_token_attention",
    /// "max_activation", "mean_gate_score"}]}`; unmeasured or non-finite values are null.
    func json() -> JSONValue {
        .object([
            "model": .string(modelPath),
            "tokens": .array(result.tokens.map { .int(Int64($0)) }),
            "vocab_size": .int(Int64(result.vocabSize)),
            "layers": .array(result.layers.map { ForwardReport.json($0) }),
        ])
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
    func text() -> String {
        var lines: [String] = []
        lines.append("\(modelPath): \(result.tokenCount) tokens, \(result.layers.count) layers, vocab \(result.vocabSize)")
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
