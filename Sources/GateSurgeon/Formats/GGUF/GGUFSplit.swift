/// llama.cpp's split GGUF convention, as `llama-gguf-split` writes it and
/// llama.cpp's loader reads it: a model stored as parts
/// `PREFIX-00001-of-0000N.gguf` ... `PREFIX-0000N-of-0000N.gguf`, each a
/// complete GGUF file holding a run of the model's tensors in order. The
/// first part holds every metadata key of the model; every part ends its
/// metadata with `split.no` (u16, the part's index from 0),
/// `split.tensors.count` (i32, the model's tensor count) and `split.count`
/// (u16, the number of parts), in that order (llama's `gguf_set_val_*`
/// removes a key and appends it, and the count is set last).
public enum GGUFSplit {
    public static let numberKey = "split.no"
    public static let countKey = "split.count"
    public static let tensorCountKey = "split.tensors.count"
    /// The keys that describe the split, not the model.
    public static let keys: Set<String> = [numberKey, countKey, tensorCountKey]
    /// ggml stores the part number and count as u16.
    public static let maximumPartCount = Int(UInt16.max)
    /// `llama-gguf-split` pads every tensor to GGUF's default alignment,
    /// whatever the source's `general.alignment`; sizes are counted so.
    public static let alignment = GGUFFile.defaultAlignment

    /// The name of one part, `PREFIX-00002-of-00004.gguf` (llama.cpp's
    /// `llama_split_path`: the numbers have at least five digits, and a
    /// u16 count never needs more).
    public struct PartName: Sendable, Equatable {
        /// The path without `-00002-of-00004.gguf`.
        public var prefix: String
        /// The part's number, from 1.
        public var number: Int
        public var count: Int

        public init(prefix: String, number: Int, count: Int) {
            self.prefix = prefix
            self.number = number
            self.count = count
        }

        /// Parses a part's path; nil when it does not end in
        /// `-NNNNN-of-MMMMM.gguf` with five-digit numbers.
        public init?(path: String) {
            let suffix = "-00000-of-00000.gguf"
            let utf8 = Array(path.utf8)
            guard utf8.count > suffix.utf8.count else { return nil }
            let tail = utf8.suffix(suffix.utf8.count)
            func digits(_ range: Range<Int>) -> Int? {
                let slice = tail.dropFirst(range.lowerBound).prefix(range.count)
                guard slice.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
                return slice.reduce(0) { $0 * 10 + Int($1 - 48) }
            }
            guard tail.first == UInt8(ascii: "-"), Array(tail.dropFirst(6).prefix(4)) == Array("-of-".utf8),
                Array(tail.suffix(5)) == Array(".gguf".utf8), let number = digits(1..<6), let count = digits(10..<15)
            else { return nil }
            self.prefix = String(decoding: utf8.dropLast(suffix.utf8.count), as: UTF8.self)
            guard !Paths.lastComponent(of: prefix).isEmpty, !prefix.hasSuffix("/") else { return nil }
            self.number = number
            self.count = count
        }

        public var path: String { "\(prefix)-\(Self.pad5(number))-of-\(Self.pad5(count)).gguf" }

        /// The path of another part of the same split.
        public func sibling(_ number: Int) -> PartName { PartName(prefix: prefix, number: number, count: count) }

        private static func pad5(_ value: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, 5 - text.count)) + text
        }
    }

    /// Where a GGUF output is cut into parts.
    public enum Limit: Sendable, Equatable {
        /// At most this many bytes of tensor data per part, each tensor
        /// counted padded to 32 bytes (`--split-max-size`; the metadata is
        /// not counted, as in llama-gguf-split).
        case bytes(Int)
        /// At most this many tensors per part (`--split-max-tensors`).
        case tensors(Int)
    }

    /// The runs of tensors each part holds, as `llama-gguf-split` cuts
    /// them: a new part starts where the limit would be exceeded. One
    /// difference: a first tensor larger than the byte limit, which
    /// llama-gguf-split refuses ("one of splits have 0 tensors"), gets a
    /// part of its own, as a larger tensor anywhere else does.
    /// - Complexity: O(tensors).
    public static func partition(byteCounts: [Int], limit: Limit) -> [Range<Int>] {
        var starts = [0]
        var size = 0
        for (index, byteCount) in byteCounts.enumerated() {
            let padded = byteCount.roundedUp(toMultipleOf: alignment) ?? Int.max
            let cut: Bool
            switch limit {
            case .bytes(let maximum): cut = index > starts[starts.count - 1] && (size +? padded).map { $0 > maximum } ?? true
            case .tensors(let maximum): cut = index > 0 && index % maximum == 0
            }
            if cut {
                starts.append(index)
                size = 0
            }
            size = (size +? padded) ?? Int.max
        }
        return zip(starts, starts.dropFirst() + [byteCounts.count]).map { $0..<$1 }
    }

    /// The metadata of part `index` (from 0) of `count`: the model's keys
    /// in the first part only, then the split keys in every part.
    public static func metadata(ofPart index: Int, count: Int, tensorCount: Int, model: Metadata<GGUFValue>) -> Metadata<GGUFValue> {
        var metadata = index == 0 ? model : Metadata()
        metadata.removeAll { keys.contains($0.key) }
        metadata[numberKey] = .uint16(UInt16(index))
        metadata[tensorCountKey] = .int32(Int32(clamping: tensorCount))
        metadata[countKey] = .uint16(UInt16(count))
        return metadata
    }
}

/// Why the parts of a split GGUF model do not make one model; each case
/// names the part at fault.
public enum GGUFSplitError: Error, Sendable, CustomStringConvertible {
    /// A split key is missing, not an integer, or out of range.
    case invalidKey(path: String, key: String, problem: String)
    /// The part's file name does not say what its keys say, so its
    /// siblings cannot be found.
    case misnamed(path: String, number: Int, count: Int)
    case missingPart(path: String, number: Int, count: Int, model: String)
    /// A part whose keys disagree with the first part's (`key`: split.count
    /// or split.tensors.count), or whose `split.no` is not its place.
    case mismatchedPart(path: String, key: String, found: Int, expected: Int)
    /// A file named as a part of this split or of another split of the same
    /// name, which the model's parts do not include.
    case extraPart(path: String, count: Int, model: String)
    case duplicateTensor(path: String, tensor: String, otherPart: String)
    /// The parts hold `found` tensors; the first part declares `declared`.
    case tensorCount(path: String, declared: Int, found: Int)

    public var description: String {
        switch self {
        case .invalidKey(let path, let key, let problem):
            "\(path): split GGUF key '\(key)' \(problem)"
        case .misnamed(let path, let number, let count):
            "\(path): split GGUF part \(number) of \(count) (split.no \(number - 1)), but not named NAME-\(pad5(number))-of-\(pad5(count)).gguf, so its other parts cannot be found; rename it as llama-gguf-split names it"
        case .missingPart(let path, let number, let count, let model):
            "\(path): part \(number) of \(count) of the split GGUF \(model) is missing"
        case .mismatchedPart(let path, let key, let found, let expected):
            key == GGUFSplit.numberKey
                ? "\(path): \(key) is \(found), but the part's name makes it \(expected) (parts renamed or out of order)"
                : "\(path): \(key) is \(found), but the first part says \(expected) (parts of different splits mixed)"
        case .extraPart(let path, let count, let model):
            "\(path): named as a part of the split GGUF \(model), but not one of its \(count) parts (left from another split of that name?); move it away"
        case .duplicateTensor(let path, let tensor, let otherPart):
            "\(path): tensor '\(tensor)' is also in part \(otherPart)"
        case .tensorCount(let path, let declared, let found):
            "\(path): split.tensors.count is \(declared), but the parts hold \(found) tensors"
        }
    }

    private func pad5(_ value: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, 5 - text.count)) + text
    }
}

extension GGUFSplit {
    /// One file of a GGUF output: where it goes, its metadata and tensors.
    public struct Part: Sendable {
        public var target: OutputTarget
        public var metadata: Metadata<GGUFValue>
        public var tensors: [OutputTensor]
    }

    /// The files a GGUF output at `target` is written as: that file, or with
    /// a `limit` the parts `llama-gguf-split` would cut the same file into,
    /// named and keyed as it names and keys them (`NAME.gguf` becomes
    /// `NAME-00001-of-0000N.gguf` ...; a model within the limit is one part,
    /// `NAME-00001-of-00001.gguf`, as the tool writes it).
    ///
    /// Refused before anything is written: a `general.alignment` other than
    /// 32 (llama-gguf-split pads parts to 32 bytes whatever the key says, so
    /// its parts of such a file are broken), a target already named as a
    /// part, more parts than a u16 counts, and files beside the target named
    /// as parts of another split of the same name, which would leave two
    /// models there.
    public static func parts(
        of tensors: [OutputTensor], metadata: Metadata<GGUFValue>, at target: OutputTarget, limit: Limit?
    ) throws -> [Part] {
        guard let limit else { return [Part(target: target, metadata: metadata, tensors: tensors)] }
        let alignment = try GGUFFile.alignment(in: metadata, path: target.path)
        guard alignment == Self.alignment else {
            throw GGUFWriteError.splitAlignment(path: target.path, alignment: alignment)
        }
        if PartName(path: target.path) != nil {
            throw OutputError.unsupportedPath(path: target.path, problem: "is already named as a part of a split GGUF",
                                              expected: ["NAME.gguf (the parts are named NAME-00001-of-0000N.gguf)"])
        }
        let runs = partition(byteCounts: tensors.map(\.byteCount), limit: limit)
        guard runs.count <= maximumPartCount else {
            throw GGUFWriteError.tooManyParts(path: target.path, count: runs.count)
        }
        let prefix = String(target.path.dropLast(target.fileExtension.count + 1))
        let names = runs.indices.map { PartName(prefix: prefix, number: $0 + 1, count: runs.count) }
        let folder = Paths.directory(of: prefix)
        let stem = Paths.lastComponent(of: prefix)
        let others = Paths.entries(of: folder).filter { entry in
            guard let other = PartName(path: entry), other.prefix == stem else { return false }
            return other.count != runs.count || other.number < 1 || other.number > runs.count
        }
        if !others.isEmpty { throw OutputError.leftoverWeights(path: folder, files: others) }
        return try zip(runs, names).enumerated().map { index, item in
            Part(target: try OutputTarget(item.1.path, fileExtensions: ["gguf"], allowsDirectory: false),
                 metadata: Self.metadata(ofPart: index, count: runs.count, tensorCount: tensors.count, model: metadata),
                 tensors: Array(tensors[item.0]))
        }
    }
}
