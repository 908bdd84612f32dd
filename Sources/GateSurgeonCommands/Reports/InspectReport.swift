import GateSurgeon
import JSON

import Platform

/// What `inspect` prints: a checkpoint's metadata and tensor list, as JSON
/// or as an aligned table.
struct InspectReport {
    let checkpoint: Checkpoint
    let tensors: [StoredTensor]
    let statistics: [TensorStatistics]?

    /// Arrays longer than this are summarized (count and first elements).
    static let arraySummaryThreshold = 16

    /// The tensors inspect lists: a safetensors checkpoint's by name in
    /// natural order (layer 2 before layer 10), a GGUF file's in file
    /// order; only names matching the shell glob `filter` when one is given.
    static func listedTensors(of checkpoint: Checkpoint, matching filter: String? = nil) -> [StoredTensor] {
        var tensors = checkpoint.tensors
        if let filter { tensors = tensors.filter { fnmatch(filter, $0.name, 0) == 0 } }
        if checkpoint.format == .safetensors { tensors.sort { naturallyPrecedes($0.name, $1.name) } }
        return tensors
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

    init(checkpoint: Checkpoint, tensors: [StoredTensor], statistics: [TensorStatistics]? = nil) {
        self.checkpoint = checkpoint
        self.tensors = tensors
        self.statistics = statistics
    }

    /// `{"format", "metadata", "tensors": [{"name", "dtype", "shape", "offset", "bytes"}]}`;
    /// entries of a multi-file checkpoint also carry "file".
    func json() -> JSONValue {
        var document = JSONObject()
        document["format"] = .string(checkpoint.format.rawValue)
        document["metadata"] = .object(metadataJSON())
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
        if let files = checkpoint.safetensors?.files, files.count > 1 { header += ", \(files.count) shards" }
        header += ", \(tensors.count) tensors, \(Self.formatCount(parameters)) parameters, \(Self.formatBytes(totalBytes))"
        lines.append(header)
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
        var rows: [[String]] = [["name", "dtype", "shape", "size"]]
        if statistics != nil { rows[0] += ["min", "max", "mean", "std", "nan", "inf"] }
        for (index, tensor) in tensors.enumerated() {
            var row = [tensor.name, tensor.dtype.name, "[" + tensor.shape.map(String.init).joined(separator: ", ") + "]", Self.formatBytes(tensor.byteCount)]
            if let statistics {
                let s = statistics[index]
                row += [s.minimum.map { Self.short($0) } ?? "-", s.maximum.map { Self.short($0) } ?? "-",
                        Self.short(Float(s.mean)), Self.short(Float(s.standardDeviation)), String(s.nanCount), String(s.infinityCount)]
            }
            rows.append(row)
        }
        lines += TextTable.lines(rows, rightAligned: Set(3..<rows[0].count))
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

