import GateSurgeon
import JSON

/// What a write will do, shown before the heavy work: one line per class
/// of tensor (the same suffix in every layer), naming the layers it covers.
enum PlanReport {
    /// `self_attn.q_proj.weight x28 (layers 0-27)  BF16 -> Q4_K`.
    static func lines(_ plan: [PlannedTensor]) -> [String] {
        struct Class {
            var key: String
            var layers: [Int] = []
            var count = 0
            var from: Set<String> = []
            var to: String
            var note: String?
        }
        var classes: [Class] = []
        for item in plan {
            let name = item.tensor.name
            let split = Architecture.splitLayer(name, prefix: Architecture.transformersLayerPrefix)
            let key = split?.1 ?? name
            let copied = item.expression.storedTensor?.dtype == item.dtype
            let to = item.dtype.name + (copied ? " (copied)" : "")
            if let index = classes.firstIndex(where: { $0.key == key && $0.to == to && $0.note == item.decision.fallbackNote }) {
                classes[index].count += 1
                classes[index].from.insert(item.tensor.dtype.name)
                if let layer = split?.0 { classes[index].layers.append(layer) }
            } else {
                var entry = Class(key: key, to: to, note: item.decision.fallbackNote)
                entry.count = 1
                entry.from = [item.tensor.dtype.name]
                if let layer = split?.0 { entry.layers = [layer] }
                classes.append(entry)
            }
        }
        let labels = classes.map { entry -> String in
            var label = entry.count > 1 ? "\(entry.key) x\(entry.count)" : entry.key
            if !entry.layers.isEmpty {
                let ranges = describeLayers(entry.layers)
                label += " (layer\(entry.layers.count > 1 ? "s" : "") \(ranges))"
            }
            return label
        }
        let width = labels.map(\.count).max() ?? 0
        return zip(classes, labels).map { entry, label in
            let from = entry.from.sorted().joined(separator: "/")
            let change = entry.to.hasSuffix("(copied)") ? entry.to : "\(from) -> \(entry.to)"
            let padded = label + String(repeating: " ", count: max(0, width - label.count))
            return "  \(padded)  \(change)" + (entry.note.map { "  [\($0)]" } ?? "")
        }
    }

    /// `[{"name", "source", "shape", "from", "to", "copied", "note"?}]` in write order.
    static func json(_ plan: [PlannedTensor]) -> JSONValue {
        .array(plan.map { item in
            var entry: JSONObject = [
                "name": .string(item.outputName),
                "source": .string(item.tensor.name),
                "shape": .array(item.tensor.shape.map { .int(Int64($0)) }),
                "from": .string(item.tensor.dtype.name),
                "to": .string(item.dtype.name),
                "copied": .bool(item.expression.storedTensor?.dtype == item.dtype),
                "bytes": .int(Int64(item.byteCount)),
            ]
            if let note = item.decision.fallbackNote { entry["note"] = .string(note) }
            return .object(entry)
        })
    }

    /// `0-11,20` for the sorted distinct layers.
    static func describeLayers(_ layers: [Int]) -> String {
        let sorted = Array(Set(layers)).sorted()
        var ranges: [String] = []
        var index = 0
        while index < sorted.count {
            var end = index
            while end + 1 < sorted.count && sorted[end + 1] == sorted[end] + 1 { end += 1 }
            ranges.append(end == index ? "\(sorted[index])" : "\(sorted[index])-\(sorted[end])")
            index = end + 1
        }
        return ranges.joined(separator: ",")
    }
}

/// What a finished write produced, or what a dry run would produce.
enum WriteReport {
    /// `wrote out.gguf: ...` (`would write` for a dry run), the weight files
    /// when there are several or for a dry run, then the bytes per type.
    static func lines(_ summary: WriteSummary, dryRun: Bool = false) -> [String] {
        let verb = dryRun ? "would write" : "wrote"
        var lines = ["\(verb) \(summary.outputPath): \(summary.tensorCount) tensors, \(InspectReport.formatCount(summary.parameterCount)) parameters, \(InspectReport.formatBytes(summary.totalBytes)), \(formatFixed(summary.bitsPerWeight, digits: 2)) bits per weight"]
        if dryRun || summary.weightFiles.count > 1 {
            let fileBytes = summary.weightFiles.reduce(0) { $0 + $1.bytes }
            lines.append("  \(summary.weightFiles.count) file\(summary.weightFiles.count == 1 ? "" : "s"), \(InspectReport.formatBytes(fileBytes)) (\(fileBytes) bytes) with headers:")
            let rows = summary.weightFiles.map { ["    " + $0.name, "\($0.tensors) tensors", InspectReport.formatBytes($0.bytes)] }
            lines += TextTable.lines(rows, rightAligned: [1, 2])
        }
        for (dtype, entry) in summary.byType.sorted(by: { ($0.value.bytes, $1.key.name) > ($1.value.bytes, $0.key.name) }) {
            lines.append("  \(dtype.name): \(entry.tensors) tensors, \(InspectReport.formatBytes(entry.bytes))")
        }
        return lines
    }

    /// Warnings for standard error, with the option that helps where there is one.
    static func warnings(_ summary: WriteSummary) -> [String] {
        var lines: [String] = []
        for warning in summary.warnings {
            switch warning {
            case .noTokenizer:
                lines.append("the GGUF carries no tokenizer, which llama.cpp needs to load it: the model has no tokenizer.json or tokenizer.model; pass --tokenizer-from FILE.gguf")
            case .tokenizerNotWritten(let reason):
                lines.append("the GGUF's tokenizer was not written: \(reason)")
            case .unknownPreTokenizer(let hash, let name):
                lines.append("the tokenizer's pre-tokenizer hash \(hash) is not in llama.cpp's converter table (the converter stops here); wrote tokenizer.ggml.pre '\(name)', the configuration tokenizer.json uses; check llama.cpp tokenizes like the model, or name it with --tokenizer-pre")
            case .llamaCppComputesOtherwise(let how):
                lines.append("\(how): llama.cpp will compute something else (gatesurgeon's forward pass follows the config)")
            case .topKNormalizationDiffers(let model, let llamaCpp):
                lines.append("this model \(model ? "renormalises" : "does not renormalise") its top-k expert weights, and llama.cpp \(llamaCpp ? "always does" : "never does") for this architecture: llama.cpp will compute something else (gatesurgeon's forward pass follows the config)")
            }
        }
        for overflow in summary.overflows {
            lines.append("\(overflow.tensor): \(overflow.count) values overflowed to infinity")
        }
        if !summary.overflows.isEmpty {
            let total = summary.overflows.reduce(0) { $0 + $1.count }
            lines.append("\(total) values in \(summary.overflows.count) tensors overflowed; consider --dtype bf16 or f32")
        }
        return lines
    }

    /// `{"files", "weight_files": [{"file", "tensors", "bytes"}], "file_bytes", "tensors", "parameters",
    /// "bytes", "bits_per_weight", "by_type", "warnings", "overflows"}`; `bytes` counts tensor data,
    /// `file_bytes` the weight files as written (headers and padding included); `warnings` are every
    /// warning the command printed, the summary's among them.
    static func json(_ summary: WriteSummary, warnings: JSONValue) -> JSONValue {
        var byType = JSONObject()
        for (dtype, entry) in summary.byType.sorted(by: { $0.key.name < $1.key.name }) {
            byType[dtype.name] = .object(["tensors": .int(Int64(entry.tensors)), "bytes": .int(Int64(entry.bytes))])
        }
        return .object([
            "files": .array(summary.files.map { .string($0) }),
            "weight_files": .array(summary.weightFiles.map {
                .object(["file": .string($0.name), "tensors": .int(Int64($0.tensors)), "bytes": .int(Int64($0.bytes))])
            }),
            "file_bytes": .int(Int64(summary.weightFiles.reduce(0) { $0 + $1.bytes })),
            "tensors": .int(Int64(summary.tensorCount)),
            "parameters": .int(Int64(summary.parameterCount)),
            "bytes": .int(Int64(summary.totalBytes)),
            "bits_per_weight": .double(summary.bitsPerWeight),
            "by_type": .object(byType),
            "warnings": warnings,
            "overflows": .array(summary.overflows.map { .object(["tensor": .string($0.tensor), "count": .int(Int64($0.count))]) }),
        ])
    }
}
