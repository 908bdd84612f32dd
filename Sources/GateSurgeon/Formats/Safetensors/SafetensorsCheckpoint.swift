import JSON

/// The safetensors side of a model: one file, or a directory of shards tied
/// together by `model.safetensors.index.json`.
public struct SafetensorsCheckpoint: Sendable {
    /// The file or directory it was opened from.
    public let path: String
    /// Whether `path` is a model directory.
    public let isDirectory: Bool
    public let files: [SafetensorsFile]
    /// Every tensor of every file, in file then data order.
    public let tensors: [StoredTensor]
    /// The index file, for a sharded directory.
    public let indexPath: String?

    /// Opens a single `.safetensors` file.
    public init(file path: String) throws {
        self.init(file: try SafetensorsFile(path: path))
    }

    /// A single file already opened (or held in memory).
    init(file: SafetensorsFile) {
        path = file.path
        isDirectory = false
        files = [file]
        tensors = file.tensors
        indexPath = nil
    }

    /// Opens the weights of a model directory: through its index when it has
    /// one (every shard checked against it), else its `.safetensors` files.
    public init(directory: String) throws {
        path = directory
        isDirectory = true
        let indexes = Paths.entries(of: directory).filter { $0.hasSuffix(".safetensors.index.json") }
        if let indexName = indexes.first {
            let indexPath = Paths.join(directory, indexName)
            self.indexPath = indexPath
            let weightMap = try SafetensorsCheckpoint.readWeightMap(indexPath)
            var shardNames: [String] = []
            for (_, shard) in weightMap where !shardNames.contains(shard) { shardNames.append(shard) }
            shardNames.sort()
            var files: [SafetensorsFile] = []
            for shard in shardNames {
                let shardPath = Paths.join(directory, shard)
                guard Paths.exists(shardPath), !shard.contains("/") else {
                    let tensor = weightMap.first { $0.1 == shard }!.0
                    throw SafetensorsError.shardMissing(index: indexPath, tensor: tensor, shard: shard)
                }
                files.append(try SafetensorsFile(path: shardPath))
            }
            // A file named as a shard of the same name that the index does not
            // use is a shard of another save left beside this one.
            let bases = Set(shardNames.compactMap { SafetensorsCheckpoint.shardName($0)?.base })
            for name in Paths.entries(of: directory) where !name.hasPrefix(".") && !shardNames.contains(name) {
                if let base = SafetensorsCheckpoint.shardName(name)?.base, bases.contains(base) {
                    throw SafetensorsError.shardNotInIndex(index: indexPath, shard: name)
                }
            }
            var listed: [String: String] = [:]
            for (tensor, shard) in weightMap { listed[tensor] = shard }
            for (file, shard) in zip(files, shardNames) {
                let names = Set(file.tensors.map(\.name))
                for (tensor, mapped) in weightMap where mapped == shard && !names.contains(tensor) {
                    throw SafetensorsError.tensorMissingFromShard(index: indexPath, tensor: tensor, shard: shard)
                }
                for tensor in file.tensors where listed[tensor.name] != shard {
                    throw SafetensorsError.tensorNotInIndex(index: indexPath, tensor: tensor.name, shard: shard)
                }
            }
            self.files = files
            tensors = files.flatMap(\.tensors)
        } else {
            let names = Paths.entries(of: directory).filter { $0.hasSuffix(".safetensors") && !$0.hasPrefix(".") }
            guard !names.isEmpty else {
                throw SafetensorsError.indexInvalid(path: directory, problem: "no .safetensors file and no index in this directory")
            }
            // Without an index, several files are one model only when they
            // are a complete set of shards (NAME-00001-of-00003.safetensors).
            if names.count > 1 && !SafetensorsCheckpoint.isCompleteShardSet(names) {
                throw SafetensorsError.ambiguousDirectory(path: directory, files: names)
            }
            let files = try names.map { try SafetensorsFile(path: Paths.join(directory, $0)) }
            var owner: [String: String] = [:]
            for file in files {
                for tensor in file.tensors {
                    if let other = owner[tensor.name] {
                        throw SafetensorsError.duplicateTensor(path: file.path, tensor: tensor.name, otherFile: other)
                    }
                    owner[tensor.name] = file.path
                }
            }
            self.files = files
            tensors = files.flatMap(\.tensors)
            indexPath = nil
        }
    }

    /// Whether `names` are exactly `BASE-00001-of-0000N.safetensors` .. N.
    static func isCompleteShardSet(_ names: [String]) -> Bool {
        var base: Substring?
        var total: Int?
        var seen = Set<Int>()
        for name in names {
            guard let (prefix, index, count) = shardName(name), index >= 1, index <= count else { return false }
            if base == nil { base = prefix; total = count }
            guard prefix == base, count == total, seen.insert(index).inserted else { return false }
        }
        return seen.count == total
    }

    /// `BASE-00002-of-00003.safetensors` parsed: base, number, count.
    static func shardName(_ name: String) -> (base: Substring, number: Int, count: Int)? {
        guard name.hasSuffix(".safetensors") else { return nil }
        func isDigit(_ character: Character) -> Bool { character.isASCII && character.isNumber }
        let stem = name.dropLast(".safetensors".count)
        let parts = stem.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[parts.count - 2] == "of", parts[parts.count - 3].allSatisfy(isDigit),
            parts[parts.count - 1].allSatisfy(isDigit), let index = Int(parts[parts.count - 3]),
            let count = Int(parts[parts.count - 1])
        else { return nil }
        let prefix = stem.dropLast(parts[parts.count - 1].count + parts[parts.count - 2].count + parts[parts.count - 3].count + 3)
        return (prefix, index, count)
    }

    /// The `weight_map` of an index, in file order.
    static func readWeightMap(_ path: String) throws -> [(String, String)] {
        let json: JSONValue
        do {
            json = try JSONValue.parse(try Paths.readFile(path), rejectingDuplicateKeys: true)
        } catch let error as JSONError {
            throw SafetensorsError.indexInvalid(path: path, problem: "not valid JSON: \(error)")
        }
        guard case .object(let map) = json["weight_map"] ?? .null else {
            throw SafetensorsError.indexInvalid(path: path, problem: "missing object \"weight_map\"")
        }
        var result: [(String, String)] = []
        for (tensor, value) in map {
            guard case .string(let shard) = value else {
                throw SafetensorsError.indexInvalid(path: path, problem: "weight_map entry '\(tensor)' must be a file name string")
            }
            result.append((tensor, shard))
        }
        return result
    }
}
