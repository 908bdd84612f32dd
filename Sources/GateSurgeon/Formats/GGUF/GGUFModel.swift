/// A GGUF model: one file, or every part of a model `llama-gguf-split`
/// split (`GGUFSplit`), opened from any of its parts.
///
/// It reads as one file does: `metadata` is the first part's without the
/// split keys, `tensors` are every part's in part order, each a view of
/// its own part's mapping, so a split model costs the memory a single file
/// does. The parts are checked as llama.cpp's loader checks them, and more
/// strictly: every part present and named for its place, every `split.no`
/// its place, every `split.count` and `split.tensors.count` the first
/// part's, no tensor twice, the declared number of tensors, and no other
/// split of the same name beside it.
public struct GGUFModel: Sendable {
    /// The files in part order; one for a model in one file.
    public let parts: [GGUFFile]
    /// Metadata in file order: the first part's, without the split keys.
    public let metadata: Metadata<GGUFValue>
    /// Every part's tensors, in part order then file order; shapes outermost first.
    public let tensors: [StoredTensor]

    /// The first part's path: the file llama.cpp loads the model from.
    public var path: String { parts[0].path }
    /// Whether the model is stored in more than one file.
    public var isSplit: Bool { parts.count > 1 }
    public var version: UInt32 { parts[0].version }

    /// Opens the GGUF model `path` holds, or is a part of.
    public init(path: String) throws {
        try self.init(file: try GGUFFile(path: path))
    }

    /// The model `file` holds, or the whole split model when `file` is a
    /// part of one (any part: the others are found by name beside it).
    public init(file: GGUFFile) throws {
        guard let count = try Self.partCount(of: file) else {
            self.init(checkedParts: [file])
            return
        }
        let number = try Self.integer(GGUFSplit.numberKey, of: file, in: 0..<count) + 1
        guard let name = GGUFSplit.PartName(path: file.path), name.number == number, name.count == count else {
            throw GGUFSplitError.misnamed(path: file.path, number: number, count: count)
        }
        let first = name.sibling(1).path
        var parts: [GGUFFile] = []
        for index in 1...count {
            let partPath = name.sibling(index).path
            if index == number {
                parts.append(file)
                continue
            }
            guard Paths.exists(partPath) else {
                throw GGUFSplitError.missingPart(path: partPath, number: index, count: count, model: first)
            }
            let part = try GGUFFile(path: partPath)
            let partNumber = try Self.integer(GGUFSplit.numberKey, of: part, in: 0..<GGUFSplit.maximumPartCount) + 1
            guard partNumber == index else {
                throw GGUFSplitError.mismatchedPart(path: partPath, key: GGUFSplit.numberKey, found: partNumber - 1, expected: index - 1)
            }
            let partCount = try Self.integer(GGUFSplit.countKey, of: part, in: 0..<(GGUFSplit.maximumPartCount + 1))
            guard partCount == count else {
                throw GGUFSplitError.mismatchedPart(path: partPath, key: GGUFSplit.countKey, found: partCount, expected: count)
            }
            parts.append(part)
        }
        try Self.refuseOtherParts(beside: name, model: first)
        let declared = try Self.integer(GGUFSplit.tensorCountKey, of: parts[0], in: 0..<Int(Int32.max))
        for part in parts.dropFirst() {
            let partDeclared = try Self.integer(GGUFSplit.tensorCountKey, of: part, in: 0..<Int(Int32.max))
            guard partDeclared == declared else {
                throw GGUFSplitError.mismatchedPart(path: part.path, key: GGUFSplit.tensorCountKey, found: partDeclared, expected: declared)
            }
        }
        var owner: [String: String] = [:]
        for part in parts {
            for tensor in part.tensors {
                if let other = owner.updateValue(part.path, forKey: tensor.name) {
                    throw GGUFSplitError.duplicateTensor(path: part.path, tensor: tensor.name, otherPart: other)
                }
            }
        }
        guard owner.count == declared else {
            throw GGUFSplitError.tensorCount(path: first, declared: declared, found: owner.count)
        }
        self.init(checkedParts: parts)
    }

    private init(checkedParts parts: [GGUFFile]) {
        self.parts = parts
        var metadata = parts[0].metadata
        metadata.removeAll { GGUFSplit.keys.contains($0.key) }
        self.metadata = metadata
        tensors = parts.flatMap(\.tensors)
    }

    /// The value stored under `key`.
    public func value(_ key: String) -> GGUFValue? { metadata[key] }

    /// `general.architecture`, when present.
    public var architecture: String? { value("general.architecture")?.stringValue }

    /// The number of parts `file` says the model has; nil for a model in
    /// one file (no `split.count`, or a count of 0 or 1: `llama-gguf-split
    /// --merge` leaves `split.count` 0 in the merged file).
    private static func partCount(of file: GGUFFile) throws -> Int? {
        guard file.metadata[GGUFSplit.countKey] != nil else { return nil }
        let count = try integer(GGUFSplit.countKey, of: file, in: 0..<(GGUFSplit.maximumPartCount + 1))
        return count > 1 ? count : nil
    }

    /// The integer under a split key of `file`, which must lie in `range`.
    private static func integer(_ key: String, of file: GGUFFile, in range: Range<Int>) throws -> Int {
        guard let value = file.metadata[key] else {
            throw GGUFSplitError.invalidKey(path: file.path, key: key, problem: "is missing")
        }
        guard let number = value.intValue, value.boolValue == nil else {
            throw GGUFSplitError.invalidKey(path: file.path, key: key, problem: "is not an integer")
        }
        guard range.contains(number) else {
            throw GGUFSplitError.invalidKey(path: file.path, key: key, problem: "is \(number), outside \(range.lowerBound)...\(range.upperBound - 1)")
        }
        return number
    }

    /// Refuses files beside the parts named as parts of the same name that
    /// are not among them: a part number beyond the count, or a split of
    /// the same name into another number of parts.
    private static func refuseOtherParts(beside name: GGUFSplit.PartName, model: String) throws {
        let folder = Paths.directory(of: name.prefix)
        let stem = Paths.lastComponent(of: name.prefix)
        for entry in Paths.entries(of: folder) {
            guard let other = GGUFSplit.PartName(path: entry), other.prefix == stem else { continue }
            if other.count != name.count || other.number < 1 || other.number > name.count {
                throw GGUFSplitError.extraPart(path: Paths.join(folder, entry), count: name.count, model: model)
            }
        }
    }
}
