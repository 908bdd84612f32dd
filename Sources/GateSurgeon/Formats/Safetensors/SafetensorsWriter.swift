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
    public static func header(for tensors: [OutputTensor], metadata: [(key: String, value: String)]?) -> [UInt8] {
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
        }
    }

    /// Writes one file at `path` (not atomically: callers write into an
    /// `AtomicOutput`'s temporary path).
    /// - Complexity: O(total bytes); memory is bounded by one tensor's producer.
    public static func write(
        _ tensors: [OutputTensor], metadata: [(key: String, value: String)]?, to path: String,
        progress: ((OutputTensor) -> Void)? = nil
    ) throws {
        try validate(tensors, path: path)
        let ordered = canonicalOrder(tensors)
        let header = header(for: ordered, metadata: metadata)
        let output = try OutputFile(creating: path)
        try output.writeUInt64LE(UInt64(header.count))
        try output.write(header)
        for tensor in ordered {
            progress?(tensor)
            try output.writeData(of: tensor)
        }
        try output.close()
    }

    /// Splits tensors into shards of at most `maxShardSize` data bytes (a
    /// tensor larger than that gets a shard of its own), the way transformers
    /// does, and writes them with `model.safetensors.index.json` into
    /// `directory`. Returns the file names written.
    public static func writeSharded(
        _ tensors: [OutputTensor], metadata: [(key: String, value: String)]?, maxShardSize: Int,
        into directory: String, baseName: String = "model", progress: ((OutputTensor) -> Void)? = nil
    ) throws -> [String] {
        try validate(tensors, path: directory)
        var shards: [[OutputTensor]] = [[]]
        var shardSize = 0
        for tensor in tensors {
            if shardSize + tensor.byteCount > maxShardSize && !shards[shards.count - 1].isEmpty {
                shards.append([])
                shardSize = 0
            }
            shards[shards.count - 1].append(tensor)
            shardSize += tensor.byteCount
        }
        if shards.count == 1 {
            let name = "\(baseName).safetensors"
            try write(tensors, metadata: metadata, to: Paths.join(directory, name), progress: progress)
            return [name]
        }
        var names: [String] = []
        var weightMap: [(String, String)] = []
        for (index, shard) in shards.enumerated() {
            let name = "\(baseName)-\(pad5(index + 1))-of-\(pad5(shards.count)).safetensors"
            try write(shard, metadata: metadata, to: Paths.join(directory, name), progress: progress)
            names.append(name)
            weightMap += shard.map { ($0.name, name) }
        }
        weightMap.sort { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        let totalSize = tensors.reduce(0) { $0 + $1.byteCount }
        let index: JSONValue = .object([
            "metadata": .object(["total_size": .int(Int64(totalSize))]),
            "weight_map": .object(JSONObject(weightMap.map { ($0.0, JSONValue.string($0.1)) })),
        ])
        let indexName = "\(baseName).safetensors.index.json"
        try Paths.writeText(index.serialized(.indented) + "\n", to: Paths.join(directory, indexName))
        return names + [indexName]
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

    public var description: String {
        switch self {
        case .unsupportedDType(let path, let tensor, let dtype):
            "\(path): tensor '\(tensor)' is \(dtype), which safetensors cannot store; pass --dtype to convert it"
        case .duplicateName(let path, let tensor):
            "\(path): tensor name '\(tensor)' is used twice"
        }
    }
}
