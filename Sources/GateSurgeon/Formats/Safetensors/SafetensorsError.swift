/// Why a safetensors file or a sharded model directory was refused.
///
/// Each case names the file and, where one exists, the tensor or key and the
/// byte offset, so a one-line message tells the user exactly where to look.
public enum SafetensorsError: Error, Sendable, CustomStringConvertible {
    case fileTooSmall(path: String, size: Int)
    case headerTooLarge(path: String, length: UInt64, limit: Int)
    case headerPastEnd(path: String, length: UInt64, fileSize: Int)
    case headerNotJSON(path: String, reason: String, offset: Int?)
    case headerNotObject(path: String, kind: String)
    // `offset` is the absolute position of the tensor's (or key's) name in
    // the header, when known.
    case invalidEntry(path: String, tensor: String, offset: Int?, problem: String)
    case unknownDType(path: String, tensor: String, offset: Int?, dtype: String)
    case invalidMetadata(path: String, key: String, offset: Int?, problem: String)
    case elementCountOverflow(path: String, tensor: String, offset: Int?, shape: [String])
    case notContiguous(path: String, tensor: String, begin: Int, expected: Int, dataStart: Int)
    case sizeMismatch(path: String, tensor: String, offset: Int?, dtype: DType, shape: [Int], expected: Int, found: Int)
    case offsetsPastEnd(path: String, tensor: String, offset: Int?, end: Int, dataSize: Int)
    case incompleteBuffer(path: String, covered: Int, dataSize: Int, dataStart: Int)
    case indexInvalid(path: String, problem: String)
    case shardMissing(index: String, tensor: String, shard: String)
    case tensorMissingFromShard(index: String, tensor: String, shard: String)
    case tensorNotInIndex(index: String, tensor: String, shard: String)
    /// A shard-named file beside the index that the index maps no tensor to.
    case shardNotInIndex(index: String, shard: String)
    case duplicateTensor(path: String, tensor: String, otherFile: String)
    /// A directory holds several safetensors files that are not one sharded model.
    case ambiguousDirectory(path: String, files: [String])

    private static func at(_ offset: Int?) -> String {
        offset.map { " at byte \($0)" } ?? ""
    }

    public var description: String {
        switch self {
        case .fileTooSmall(let path, let size):
            return "\(path): file is \(size) bytes, too small for the 8-byte header length"
        case .headerTooLarge(let path, let length, let limit):
            return "\(path): header length \(length) at byte 0 exceeds the \(limit)-byte limit"
        case .headerPastEnd(let path, let length, let fileSize):
            // 8 bytes of length, then the header: printed in UInt64 (the length may be anything).
            let (expected, overflows) = length.addingReportingOverflow(8)
            let size = overflows ? "more than 2^64" : "\(expected)"
            return "\(path): header length \(length) at byte 0 runs past the end of the file: truncated (expected \(size) bytes, found \(fileSize))"
        case .headerNotJSON(let path, let reason, let offset):
            let place = offset.map { " at byte \($0 + 8)" } ?? ""
            return "\(path): header is not valid JSON: \(reason)\(place)"
        case .headerNotObject(let path, let kind):
            return "\(path): header is a JSON \(kind), expected an object at byte 8"
        case .invalidEntry(let path, let tensor, let offset, let problem):
            return "\(path): tensor '\(tensor)'\(Self.at(offset)): \(problem)"
        case .unknownDType(let path, let tensor, let offset, let dtype):
            return "\(path): tensor '\(tensor)'\(Self.at(offset)): unknown dtype \"\(dtype)\""
        case .invalidMetadata(let path, let key, let offset, let problem):
            return "\(path): __metadata__ key '\(key)'\(Self.at(offset)): \(problem)"
        case .elementCountOverflow(let path, let tensor, let offset, let shape):
            return "\(path): tensor '\(tensor)'\(Self.at(offset)): shape [\(shape.joined(separator: ", "))] overflows a 64-bit element count (product of the non-zero dimensions)"
        case .notContiguous(let path, let tensor, let begin, let expected, let dataStart):
            let kind = begin < expected ? "overlaps the previous tensor" : "leaves a gap after the previous tensor"
            let byte = (dataStart +? begin).map { " (byte \($0))" } ?? ""
            return "\(path): tensor '\(tensor)': data_offsets begin at \(begin)\(byte) but the previous tensor ends at \(expected); it \(kind)"
        case .sizeMismatch(let path, let tensor, let offset, let dtype, let shape, let expected, let found):
            return "\(path): tensor '\(tensor)'\(Self.at(offset)): \(dtype) \(shape) needs \(expected) bytes but data_offsets span \(found)"
        case .offsetsPastEnd(let path, let tensor, let offset, let end, let dataSize):
            return "\(path): tensor '\(tensor)'\(Self.at(offset)): data ends at \(end), past the end of the data section: truncated (expected \(end) data bytes, found \(dataSize))"
        case .incompleteBuffer(let path, let covered, let dataSize, let dataStart):
            return "\(path): tensors cover \(covered) of the \(dataSize) data bytes; bytes from \(dataStart + covered) on belong to no tensor"
        case .indexInvalid(let path, let problem):
            return "\(path): \(problem)"
        case .shardMissing(let index, let tensor, let shard):
            return "\(index): tensor '\(tensor)' is mapped to shard \(shard), which does not exist"
        case .tensorMissingFromShard(let index, let tensor, let shard):
            return "\(index): tensor '\(tensor)' is mapped to \(shard), which does not contain it"
        case .tensorNotInIndex(let index, let tensor, let shard):
            return "\(index): shard \(shard) holds tensor '\(tensor)', which the index does not list"
        case .shardNotInIndex(let index, let shard):
            return "\(index): \(shard) beside it is named as a shard, but the index maps no tensor to it (a shard of another save?); move it away"
        case .ambiguousDirectory(let path, let files):
            return "\(path): holds \(files.count) safetensors files (\(files.joined(separator: ", "))) that are not the shards of one model and no index; name one file"
        case .duplicateTensor(let path, let tensor, let otherFile):
            return "\(path): tensor '\(tensor)' also appears in \(otherFile)"
        }
    }
}
