import ArgumentParser
import GateSurgeon

import Platform

extension DType: ExpressibleByArgument {
    public init?(argument: String) {
        self.init(userSpelling: argument)
    }

    /// Float types `--dtype` accepts.
    static let conversionTargets: [DType] = [.f32, .f16, .bf16]
    /// Block types `--quant` accepts.
    static let quantizationTargets: [DType] = [.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_NL, .iq4_XS]

    public static var allValueStrings: [String] {
        (conversionTargets + quantizationTargets).map { $0.rawValue.lowercased() }
    }
}

extension GateLayout: ExpressibleByArgument {}
extension GateGranularity: ExpressibleByArgument {}

/// Where and how the output is written; shared by every command that writes a model.
struct OutputOptions: ParsableArguments {
    @Option(name: .customLong("dtype"), help: ArgumentHelp("Convert float tensors to this type.", valueName: "f32|f16|bf16"))
    var dtype: DType?

    @Option(name: .customLong("quant"), help: ArgumentHelp("Quantize 2-D weights to this GGUF type (GGUF output).", valueName: "q8_0|q4_0|q4_1|q5_0|q5_1|q2_k|q3_k|q4_k|q5_k|q6_k|iq4_nl|iq4_xs"))
    var quantization: DType?

    @Option(help: ArgumentHelp("Type of the token embedding when quantizing (default: the --quant type).", valueName: "type"))
    var embeddingType: DType?

    @Option(help: ArgumentHelp("Type of lm_head when quantizing (default: the --quant type).", valueName: "type"))
    var outputType: DType?

    @Option(name: .customLong("keep"), help: ArgumentHelp("Leave tensors matching this glob as stored (repeatable).", valueName: "glob"))
    var keep: [String] = []

    @Option(help: ArgumentHelp("Split safetensors output into shards of at most this size (e.g. 5GB, 500MiB); needs a directory output.", valueName: "size"))
    var maxShardSize: String?

    @Option(help: ArgumentHelp("GGUF output: copy the tokenizer.* metadata from this GGUF file (e.g. an official GGUF of the same model).", valueName: "file.gguf"))
    var tokenizerFrom: String?

    @Flag(help: "Replace the output if it exists.")
    var force = false

    func validate() throws {
        if let dtype, !DType.conversionTargets.contains(dtype) {
            throw ValidationError("--dtype must be f32, f16 or bf16, not \(dtype.name.lowercased())")
        }
        for (flag, type) in [("--quant", quantization), ("--embedding-type", embeddingType), ("--output-type", outputType)] {
            if let type, !DType.quantizationTargets.contains(type) && !DType.conversionTargets.contains(type) {
                throw ValidationError("\(flag) \(type.name.lowercased()) is not a type gatesurgeon writes; choose one of \(DType.allValueStrings.joined(separator: ", "))")
            }
        }
        if let quantization, DType.conversionTargets.contains(quantization) {
            throw ValidationError("--quant takes a block type such as q8_0 or q4_k; for \(quantization.name.lowercased()) use --dtype")
        }
        if let maxShardSize, ByteSize.parse(maxShardSize) == nil {
            throw ValidationError("--max-shard-size '\(maxShardSize)' is not a size such as 5GB, 500MB or 2GiB")
        }
    }

    /// Checks the options that depend on the output's format.
    func validate(forOutput path: String) throws {
        if tokenizerFrom != nil && outputFormat(for: path) != .gguf {
            throw ValidationError("--tokenizer-from applies to GGUF output; give an output path ending in .gguf")
        }
    }

    var policy: ConversionPolicy {
        ConversionPolicy(dtype: dtype, quantization: quantization, embeddingType: embeddingType, outputType: outputType, keep: keep)
    }

    func writeOptions(format: CheckpointFormat) -> WriteOptions {
        WriteOptions(format: format, policy: policy, maxShardSize: maxShardSize.flatMap(ByteSize.parse), replacing: force, tokenizerSource: tokenizerFrom)
    }
}

/// Output format from the output path: `.gguf` is GGUF, anything else safetensors.
func outputFormat(for path: String) -> CheckpointFormat {
    Paths.fileExtension(of: path) == "gguf" ? .gguf : .safetensors
}

/// Sizes written the way people write them: 5GB, 500MB, 2GiB, 1048576.
enum ByteSize {
    static func parse(_ text: String) -> Int? {
        let lower = text.lowercased().filter { $0 != " " }
        let units: [(String, Double)] = [("kib", 1024), ("mib", 1_048_576), ("gib", 1_073_741_824), ("tib", 1_099_511_627_776),
                                         ("kb", 1e3), ("mb", 1e6), ("gb", 1e9), ("tb", 1e12), ("k", 1e3), ("m", 1e6), ("g", 1e9), ("b", 1)]
        for (suffix, factor) in units where lower.hasSuffix(suffix) {
            guard let number = Double(lower.dropLast(suffix.count)), number > 0 else { return nil }
            return Int(number * factor)
        }
        guard let bytes = Int(lower), bytes > 0 else { return nil }
        return bytes
    }
}

/// Layer lists such as `0-11,20`.
enum LayerSpec {
    static func parse(_ text: String) -> Set<Int>? {
        var layers = Set<Int>()
        for part in text.split(separator: ",") {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            if bounds.count == 1, let layer = Int(bounds[0]), layer >= 0 {
                layers.insert(layer)
            } else if bounds.count == 2, let low = Int(bounds[0]), let high = Int(bounds[1]), low >= 0, low <= high {
                layers.formUnion(low...high)
            } else {
                return nil
            }
        }
        return layers.isEmpty ? nil : layers
    }
}

/// Progress on standard error, only when it is a terminal, so logs stay clean.
struct Progress: Sendable {
    let enabled = isatty(STDERR_FILENO) != 0

    func update(_ text: String) {
        guard enabled else { return }
        writeStandardError("\r\u{1B}[2K" + text)
    }

    func finish() {
        guard enabled else { return }
        writeStandardError("\r\u{1B}[2K")
    }
}

/// One line per tensor class ("self_attn.q_proj.weight x28: BF16 -> Q4_K"),
/// printed before the heavy work starts.
func describePlan(_ plan: [PlannedTensor]) -> [String] {
    var classes: [(key: String, count: Int, from: Set<String>, to: String, note: String?)] = []
    for item in plan {
        let name = item.tensor.name
        let key = TensorNaming.splitLayer(name, prefix: "model.layers.")?.1 ?? name
        let untouched = item.expression.storedTensor?.dtype == item.dtype
        let to = item.dtype.name + (untouched ? " (copied)" : "")
        if let index = classes.firstIndex(where: { $0.key == key && $0.to == to }) {
            classes[index].count += 1
            classes[index].from.insert(item.tensor.dtype.name)
        } else {
            classes.append((key, 1, [item.tensor.dtype.name], to, item.decision.fallbackNote))
        }
    }
    let width = classes.map { $0.key.count + String($0.count).count + 2 }.max() ?? 0
    return classes.map { entry in
        let label = entry.count > 1 ? "\(entry.key) x\(entry.count)" : entry.key
        let from = entry.from.sorted().joined(separator: "/")
        let change = entry.to.hasSuffix("(copied)") ? entry.to : "\(from) -> \(entry.to)"
        let padded = label + String(repeating: " ", count: max(0, width - label.count))
        return "  \(padded)  \(change)" + (entry.note.map { "  [\($0)]" } ?? "")
    }
}

/// The summary printed after a write.
func describeSummary(_ summary: WriteSummary) -> [String] {
    var lines: [String] = []
    lines.append("wrote \(summary.outputPath): \(summary.tensorCount) tensors, \(InspectReport.formatCount(summary.parameterCount)) parameters, \(InspectReport.formatBytes(summary.totalBytes)), \(formatFixed(summary.bitsPerWeight, digits: 2)) bits per weight")
    for (dtype, entry) in summary.byType.sorted(by: { $0.value.bytes > $1.value.bytes }) {
        lines.append("  \(dtype.name): \(entry.tensors) tensors, \(InspectReport.formatBytes(entry.bytes))")
    }
    if let config = summary.configPath { lines.append("  config: \(config)") }
    for warning in summary.warnings { lines.append("warning: \(warning)") }
    for overflow in summary.overflows {
        lines.append("warning: \(overflow.tensor): \(overflow.count) values overflowed to infinity")
    }
    if !summary.overflows.isEmpty {
        let total = summary.overflows.reduce(0) { $0 + $1.count }
        lines.append("warning: \(total) values in \(summary.overflows.count) tensors overflowed; consider --dtype bf16 or f32")
    }
    return lines
}


/// Writes to standard error unbuffered (progress and warnings).
func writeStandardError(_ text: String) {
    var bytes = Array(text.utf8)
    _ = bytes.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}
