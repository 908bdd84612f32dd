import JSON

/// Writes safetensors files, streaming tensor by tensor.
///
/// Tensors are ordered as the reference crate orders them (larger dtype
/// alignment first, then by name) and the header is compact JSON padded with
/// spaces to an 8-byte boundary, so the same tensors give the same bytes the
/// `safetensors` Python package writes.
public enum SafetensorsWriter {
    /// The order the reference serializer lays tensors out in.
    public static func canonicalOrder(_ tensors: [OutputTensor]) -> [OutputTensor] {
        tensors.sorted { left, right in
            let (l, r) = (left.dtype.safetensorsAlignmentRank, right.dtype.safetensorsAlignmentRank)
            if l != r { return l > r }
            return left.name.utf8.lexicographicallyPrecedes(right.name.utf8)
        }
    }

    /// The header bytes (JSON plus padding) for tensors in the given order.
    public static func header(for tensors: [OutputTensor], metadata: Metadata<String>?) -> [UInt8] {
        var object = JSONObject()
        if let metadata {
            object["__metadata__"] = .object(JSONObject(metadata.map { ($0.key, JSONValue.string($0.value)) }))
        }
        var offset = 0
        for tensor in tensors {
            object[tensor.name] = .object([
                "dtype": .string(tensor.dtype.name),
                "shape": .array(tensor.shape.map { .int(Int64($0)) }),
                "data_offsets": .array([.int(Int64(offset)), .int(Int64(offset + tensor.byteCount))]),
            ])
            offset += tensor.byteCount
        }
        var bytes = Array(JSONValue.object(object).serialized(.compact).utf8)
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - bytes.count % 8) % 8))
        return bytes
    }

    /// The size in bytes of the file `write` makes of `tensors` and `metadata`.
    public static func fileSize(_ tensors: [OutputTensor], metadata: Metadata<String>?) -> Int {
        8 + header(for: canonicalOrder(tensors), metadata: metadata).count + tensors.reduce(0) { $0 + $1.byteCount }
    }

    /// Checks what a safetensors file cannot hold.
    static func validate(_ tensors: [OutputTensor], path: String) throws(SafetensorsWriteError) {
        var seen = Set<String>()
        for tensor in tensors {
            guard tensor.dtype.isSafetensorsType else {
                throw .unsupportedDType(path: path, tensor: tensor.name, dtype: tensor.dtype)
            }
            guard seen.insert(tensor.name).inserted else {
                throw .duplicateName(path: path, tensor: tensor.name)
            }
            guard !tensor.name.utf8.contains(0) else {
                throw .nameContainsNUL(path: path, tensor: tensor.name)
            }
        }
    }

    /// Writes one file at `path` (not atomically: callers write into a
    /// path an `OutputTransaction` staged).
    /// - Complexity: O(total bytes); memory is bounded by one tensor's producer.
    public static func write(
        _ tensors: [OutputTensor], metadata: Metadata<String>?, to path: String,
        progress: ((OutputTensor) -> Void)? = nil
    ) throws {
        try validate(tensors, path: path)
        let ordered = canonicalOrder(tensors)
        let header = header(for: ordered, metadata: metadata)
        let output = try OutputFile(creating: path)
        try output.write(UInt64(header.count), endianness: .little)
        try output.write(header)
        for tensor in ordered {
            progress?(tensor)
            try output.writeData(of: tensor)
        }
        try output.close()
    }

    /// Which tensors go into which file of a model directory: one
    /// `model.safetensors`, or shards of at most `maxShardSize` data bytes
    /// (a tensor larger than that gets a shard of its own) plus
    /// `model.safetensors.index.json`, the way transformers splits them.
    public struct ShardLayout {
        public var shards: [(name: String, tensors: [OutputTensor])]
        public var indexName: String?
        /// Every file the layout writes, shards first.
        public var fileNames: [String] { shards.map(\.name) + (indexName.map { [$0] } ?? []) }
    }

    public static func shardLayout(_ tensors: [OutputTensor], maxShardSize: Int, baseName: String = "model") -> ShardLayout {
        var groups: [[OutputTensor]] = [[]]
        var shardSize = 0
        for tensor in tensors {
            if shardSize + tensor.byteCount > maxShardSize && !groups[groups.count - 1].isEmpty {
                groups.append([])
                shardSize = 0
            }
            groups[groups.count - 1].append(tensor)
            shardSize += tensor.byteCount
        }
        if groups.count == 1 {
            return ShardLayout(shards: [("\(baseName).safetensors", tensors)], indexName: nil)
        }
        let shards = groups.enumerated().map { index, group in
            ("\(baseName)-\(pad5(index + 1))-of-\(pad5(groups.count)).safetensors", group)
        }
        return ShardLayout(shards: shards, indexName: "\(baseName).safetensors.index.json")
    }

    /// Writes the files of `layout` into `directory`.
    public static func write(_ layout: ShardLayout, metadata: Metadata<String>?, into directory: String) throws {
        try validate(layout.shards.flatMap(\.tensors), path: directory)
        var weightMap: [(String, String)] = []
        var totalSize = 0
        for shard in layout.shards {
            try write(shard.tensors, metadata: metadata, to: Paths.join(directory, shard.name))
            weightMap += shard.tensors.map { ($0.name, shard.name) }
            totalSize += shard.tensors.reduce(0) { $0 + $1.byteCount }
        }
        guard let indexName = layout.indexName else { return }
        weightMap.sort { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        let index: JSONValue = .object([
            "metadata": .object(["total_size": .int(Int64(totalSize))]),
            "weight_map": .object(JSONObject(weightMap.map { ($0.0, JSONValue.string($0.1)) })),
        ])
        try Paths.writeText(index.serialized(.indented) + "\n", to: Paths.join(directory, indexName))
    }

    private static func pad5(_ value: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, 5 - text.count)) + text
    }
}

/// Why a set of tensors cannot be written as safetensors.
public enum SafetensorsWriteError: Error, Sendable, CustomStringConvertible {
    case unsupportedDType(path: String, tensor: String, dtype: DType)
    case duplicateName(path: String, tensor: String)
    /// json-c writes object keys as C strings: a NUL would cut the name short.
    case nameContainsNUL(path: String, tensor: String)

    public var description: String {
        switch self {
        case .unsupportedDType(let path, let tensor, let dtype):
            "\(path): tensor '\(tensor)' is \(dtype), which safetensors cannot store"
        case .duplicateName(let path, let tensor):
            "\(path): tensor name '\(tensor)' is used twice"
        case .nameContainsNUL(let path, let tensor):
            "\(path): tensor name '\(tensor)' contains a NUL byte, which a safetensors header cannot hold"
        }
    }
}
