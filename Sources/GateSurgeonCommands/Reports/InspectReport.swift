import GateSurgeon
import JSON

import Platform

/// What `inspect` prints: a checkpoint's metadata and tensor list, as JSON
/// or as an aligned table.
struct InspectReport {
    let checkpoint: Checkpoint
    let tensors: [StoredTensor]
    let statistics: [TensorStatistics]?
    /// The `--filter` glob the listing was made with, if any.
    let filter: String?
    /// The checkpoint's tokenizer, when it has one.
    var tokenizer: TokenizerInspection? = nil

    /// What inspect could make of a checkpoint's tokenizer.
    enum TokenizerInspection {
        case summary(TokenizerSummary)
        /// It has one that gatesurgeon cannot read (the reason).
        case unreadable(String)

        /// The tokenizer of a GGUF file's `tokenizer.ggml.*` keys, or of the
        /// tokenizer.json in or beside a safetensors checkpoint; nil when it has none.
        init?(of checkpoint: Checkpoint) {
            do {
                if let gguf = checkpoint.gguf {
                    guard gguf.metadata["tokenizer.ggml.model"] != nil else { return nil }
                    self = .summary(try Tokenizer(ggufMetadata: gguf.metadata, path: gguf.path).summary)
                } else {
                    let folder = Paths.isDirectory(checkpoint.path) ? checkpoint.path : Paths.directory(of: checkpoint.path)
                    guard Paths.exists(Paths.join(folder, "tokenizer.json")) else { return nil }
                    self = .summary(try Tokenizer(directory: folder).summary)
                }
            } catch {
                self = .unreadable("\(error)")
            }
        }
    }

    /// Special tokens listed in text output before "... and N more".
    static let specialTokensShown = 8

    /// Arrays longer than this are summarized (count and first elements).
    static let arraySummaryThreshold = 16

    /// The tensors inspect lists: a safetensors checkpoint's by name in
    /// natural order (layer 2 before layer 10), a GGUF file's in file
    /// order; only those the shell glob `filter` matches, by either naming,
    /// when one is given.
    static func listedTensors(of checkpoint: Checkpoint, matching filter: String? = nil) -> [StoredTensor] {
        var tensors = checkpoint.tensors
        if let filter { tensors = tensors.filter { tensor in namings(of: tensor.name).contains { fnmatch(filter, $0, 0) == 0 } } }
        if checkpoint.format == .safetensors { tensors.sort { naturallyPrecedes($0.name, $1.name) } }
        return tensors
    }

    /// A tensor's name and its name in the other convention (transformers
    /// `model.layers.0.self_attn.q_proj.weight`, GGUF `blk.0.attn_q.weight`)
    /// under any family that maps it, so one glob finds the same tensors in
    /// either format.
    static func namings(of name: String) -> [String] {
        var names = [name]
        for architecture in Architecture.all {
            for other in [architecture.ggufName(forTransformers: name), architecture.transformersName(forGGUF: name)] {
                if let other, !names.contains(other) { names.append(other) }
            }
        }
        return names
    }

    /// Name order with digit runs compared as numbers: `layers.2.` before `layers.10.`.
    static func naturallyPrecedes(_ a: String, _ b: String) -> Bool {
        var left = Array(a.utf8)[...], right = Array(b.utf8)[...]
        func isDigit(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }
        while let x = left.first, let y = right.first {
            if isDigit(x) && isDigit(y) {
                let leftRun = left.prefix(while: isDigit), rightRun = right.prefix(while: isDigit)
                let leftDigits = leftRun.drop { $0 == 48 }, rightDigits = rightRun.drop { $0 == 48 }
                if leftDigits.count != rightDigits.count { return leftDigits.count < rightDigits.count }
                if !leftDigits.elementsEqual(rightDigits) { return leftDigits.lexicographicallyPrecedes(rightDigits) }
                if leftRun.count != rightRun.count { return leftRun.count < rightRun.count }
                left = left.dropFirst(leftRun.count)
                right = right.dropFirst(rightRun.count)
            } else {
                if x != y { return x < y }
                left = left.dropFirst()
                right = right.dropFirst()
            }
        }
        return left.isEmpty && !right.isEmpty
    }

    init(checkpoint: Checkpoint, tensors: [StoredTensor], statistics: [TensorStatistics]? = nil, filter: String? = nil) {
        self.checkpoint = checkpoint
        self.tensors = tensors
        self.statistics = statistics
        self.filter = filter
    }

    /// `{"format", "metadata", "tensors": [{"name", "dtype", "shape", "offset", "bytes"}]}`;
    /// entries of a multi-file checkpoint also carry "file" (the shard or part), and a split
    /// GGUF lists its "parts" (file names in order); a filtered listing also has
    /// `"filter": {"glob", "listed", "tensors"}` (how many it lists of how many the checkpoint has).
    func json() -> JSONValue {
        var document = JSONObject()
        document["format"] = .string(checkpoint.format.rawValue)
        if let filter {
            document["filter"] = .object(["glob": .string(filter), "listed": .int(Int64(tensors.count)),
                                          "tensors": .int(Int64(checkpoint.tensors.count))])
        }
        document["metadata"] = .object(metadataJSON())
        if let gguf = checkpoint.gguf, gguf.isSplit {
            document["parts"] = .array(gguf.parts.map { .string(Paths.lastComponent(of: $0.path)) })
        }
        if let tokenizer { document["tokenizer"] = Self.json(tokenizer) }
        var entries: [JSONValue] = []
        for (index, tensor) in tensors.enumerated() {
            var entry: JSONObject = [
                "name": .string(tensor.name),
                "dtype": .string(tensor.dtype.name),
                "shape": .array(tensor.shape.map { .int(Int64($0)) }),
                "offset": .int(Int64(tensor.byteRange.lowerBound)),
                "bytes": .int(Int64(tensor.byteCount)),
            ]
            if checkpoint.isMultiFile {
                entry["file"] = .string(Paths.lastComponent(of: tensor.file.path))
            }
            if let statistics {
                let s = statistics[index]
                entry["stats"] = .object([
                    "min": s.minimum.map { .double(Double($0)) } ?? .null,
                    "max": s.maximum.map { .double(Double($0)) } ?? .null,
                    "mean": .double(s.mean),
                    "std": .double(s.standardDeviation),
                    "nan": .int(Int64(s.nanCount)),
                    "inf": .int(Int64(s.infinityCount)),
                ])
            }
            entries.append(.object(entry))
        }
        document["tensors"] = .array(entries)
        return .object(document)
    }

    /// `{"model", "pre_tokenizer", "vocab_size", "special_tokens": [{"id", "text"}],
    /// "added_before": [ids], "added_after": [ids]}`, or `{"error"}`.
    static func json(_ tokenizer: TokenizerInspection) -> JSONValue {
        switch tokenizer {
        case .unreadable(let reason):
            return .object(["error": .string(reason)])
        case .summary(let summary):
            return .object([
                "model": .string(summary.model),
                "pre_tokenizer": .string(summary.preTokenizer),
                "vocab_size": .int(Int64(summary.vocabularySize)),
                "special_tokens": .array(summary.specialTokens.sorted { $0.key < $1.key }.map {
                    .object(["id": .int(Int64($0.key)), "text": .string($0.value)])
                }),
                "added_before": .array(summary.addedBefore.map { .int(Int64($0)) }),
                "added_after": .array(summary.addedAfter.map { .int(Int64($0)) }),
            ])
        }
    }

    /// `tokenizer: gpt2, pre-tokenizer smollm, 49152 tokens, adds 1 before text` and a line of
    /// special tokens.
    static func textLines(_ tokenizer: TokenizerInspection) -> [String] {
        switch tokenizer {
        case .unreadable(let reason):
            return ["tokenizer: unreadable: " + ErrorMessages.oneLine(reason)]
        case .summary(let summary):
            var line = "tokenizer: \(summary.model), pre-tokenizer \(summary.preTokenizer), \(summary.vocabularySize) tokens"
            if !summary.addedBefore.isEmpty { line += ", adds " + summary.addedBefore.map(String.init).joined(separator: ",") + " before text" }
            if !summary.addedAfter.isEmpty { line += ", adds " + summary.addedAfter.map(String.init).joined(separator: ",") + " after text" }
            var lines = [line]
            let specials = summary.specialTokens.sorted { $0.key < $1.key }
            if !specials.isEmpty {
                var shown = specials.prefix(specialTokensShown).map { "\($0.key) \(ForwardReport.quoted($0.value))" }.joined(separator: ", ")
                if specials.count > specialTokensShown { shown += ", ... and \(specials.count - specialTokensShown) more" }
                lines.append("  special: " + shown)
            }
            return lines
        }
    }

    private func metadataJSON() -> JSONObject {
        var result = JSONObject()
        if let gguf = checkpoint.gguf {
            for (key, value) in gguf.metadata { result[key] = InspectReport.json(value) }
        } else if let files = checkpoint.safetensors?.files {
            func object(_ metadata: Metadata<String>?) -> JSONObject {
                JSONObject((metadata ?? Metadata()).map { ($0.key, JSONValue.string($0.value)) })
            }
            if checkpoint.isMultiFile {
                // Each shard has its own __metadata__: keyed by file name.
                for file in files { result[Paths.lastComponent(of: file.path)] = .object(object(file.metadata)) }
            } else if let file = files.first {
                result = object(file.metadata)
            }
        }
        return result
    }

    static func json(_ value: GGUFValue) -> JSONValue {
        switch value {
        case .uint8(let v): .int(Int64(v))
        case .int8(let v): .int(Int64(v))
        case .uint16(let v): .int(Int64(v))
        case .int16(let v): .int(Int64(v))
        case .uint32(let v): .int(Int64(v))
        case .int32(let v): .int(Int64(v))
        case .uint64(let v): v <= UInt64(Int64.max) ? .int(Int64(v)) : .uint(v)
        case .int64(let v): .int(v)
        case .float32(let v): .double(Double(v))
        case .float64(let v): .double(v)
        case .bool(let v): .bool(v)
        case .string(let v): .string(v)
        case .array(let elementType, let values):
            if values.count > arraySummaryThreshold {
                .object([
                    "type": .string("array"),
                    "element_type": .string(elementType.name),
                    "count": .int(Int64(values.count)),
                    "first": .array(values.prefix(3).map(json)),
                ])
            } else {
                .array(values.map(json))
            }
        }
    }

    /// A metadata summary followed by an aligned table of tensors.
    func text() -> String {
        var lines: [String] = []
        let totalBytes = tensors.reduce(0) { $0 + $1.byteCount }
        let parameters = tensors.reduce(0) { $0 + $1.elementCount }
        var header = "\(checkpoint.path): \(checkpoint.format.rawValue)"
        if let gguf = checkpoint.gguf { header += " v\(gguf.version)" }
        if let gguf = checkpoint.gguf, gguf.isSplit { header += ", \(gguf.parts.count) parts" }
        if let files = checkpoint.safetensors?.files, files.count > 1 { header += ", \(files.count) shards" }
        if let filter {
            header += ", \(tensors.count) of \(checkpoint.tensors.count) tensors (--filter '\(filter)')"
        } else {
            header += ", \(tensors.count) tensors"
        }
        header += ", \(Self.formatCount(parameters)) parameters, \(Self.formatBytes(totalBytes))"
        lines.append(header)
        if let tokenizer { lines += Self.textLines(tokenizer) }
        let metadata = metadataJSON()
        if metadata.count > 0 {
            lines.append("")
            lines.append("metadata:")
            let width = metadata.keys.map(\.count).max() ?? 0
            for (key, value) in metadata {
                lines.append("  " + key.padding(to: width) + "  " + Self.summary(value))
            }
        }
        lines.append("")
        // The file each tensor is in, when the checkpoint has several.
        let showsFile = checkpoint.isMultiFile
        var rows: [[String]] = [["name", "dtype", "shape", "size"] + (showsFile ? ["file"] : [])]
        if statistics != nil { rows[0] += ["min", "max", "mean", "std", "nan", "inf"] }
        for (index, tensor) in tensors.enumerated() {
            var row = [tensor.name, tensor.dtype.name, "[" + tensor.shape.map(String.init).joined(separator: ", ") + "]", Self.formatBytes(tensor.byteCount)]
            if showsFile { row.append(Paths.lastComponent(of: tensor.file.path)) }
            if let statistics {
                let s = statistics[index]
                row += [s.minimum.map { Self.short($0) } ?? "-", s.maximum.map { Self.short($0) } ?? "-",
                        Self.short(Float(s.mean)), Self.short(Float(s.standardDeviation)), String(s.nanCount), String(s.infinityCount)]
            }
            rows.append(row)
        }
        lines += TextTable.lines(rows, rightAligned: Set(3..<rows[0].count).subtracting(showsFile ? [4] : []))
        return lines.joined(separator: "\n") + "\n"
    }

    static func summary(_ value: JSONValue) -> String {
        switch value {
        case .object(let object) where object["type"] == .string("array"):
            let count = object["count"]?.intValue ?? 0
            let first = (object["first"]?.arrayValue ?? []).map { $0.serialized() }.joined(separator: ", ")
            return "[\(count) items: \(first), ...]"
        case .string(let text):
            let flat = text.count > 80 ? String(text.prefix(77)) + "..." : text
            return "\"" + flat.replacingNewlines() + "\""
        default:
            let text = value.serialized()
            return text.count > 100 ? String(text.prefix(97)) + "..." : text
        }
    }

    static func short(_ value: Float) -> String {
        let magnitude = abs(value)
        if magnitude != 0 && (magnitude < 1e-3 || magnitude >= 1e5) {
            return formatScientific(value)
        }
        return formatFixed(Double(value), digits: 4)
    }

    static func formatBytes(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : formatFixed(value, digits: value < 10 ? 2 : 1) + " " + units[unit]
    }

    static func formatCount(_ count: Int) -> String {
        switch count {
        case 1_000_000_000...: formatFixed(Double(count) / 1e9, digits: 2) + "B"
        case 1_000_000...: formatFixed(Double(count) / 1e6, digits: 2) + "M"
        case 1_000...: formatFixed(Double(count) / 1e3, digits: 1) + "K"
        default: String(count)
        }
    }
}

