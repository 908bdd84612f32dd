/// The two file formats gatesurgeon reads and writes.
public enum CheckpointFormat: String, Sendable, CaseIterable {
    case safetensors
    case gguf
}

/// Why a path could not be opened as a checkpoint at all.
public enum CheckpointError: Error, Sendable, CustomStringConvertible {
    case notFound(path: String)
    case unknownFormat(path: String)

    public var description: String {
        switch self {
        case .notFound(let path): "\(path): no such file or directory"
        case .unknownFormat(let path):
            "\(path): not a safetensors or GGUF file (expected a .safetensors or .gguf file, or a model directory)"
        }
    }
}

/// A checkpoint of either format, opened read-only: a `.safetensors` file,
/// a `.gguf` file, or a model directory of safetensors shards.
public struct Checkpoint: Sendable {
    public let path: String
    public let format: CheckpointFormat
    /// Every tensor, in file order.
    public let tensors: [StoredTensor]
    /// Set for safetensors input.
    public let safetensors: SafetensorsCheckpoint?
    /// Set for GGUF input.
    public let gguf: GGUFFile?
    /// True for a model directory, whose tensors may come from several files.
    public let isMultiFile: Bool

    /// Opens `path`, choosing the format from a directory, the extension, or
    /// the first bytes of the file.
    public init(path: String) throws {
        self.path = path
        isMultiFile = Paths.isDirectory(path)
        guard Paths.exists(path) else { throw CheckpointError.notFound(path: path) }
        if isMultiFile {
            let weights = try SafetensorsCheckpoint(directory: path)
            format = .safetensors
            safetensors = weights
            gguf = nil
            tensors = weights.tensors
            return
        }
        let file = try MappedFile(path: path)
        switch try Checkpoint.sniff(file) {
        case .gguf:
            let parsed = try GGUFFile(file: file)
            format = .gguf
            gguf = parsed
            safetensors = nil
            tensors = parsed.tensors
        case .safetensors:
            let weights = try SafetensorsCheckpoint(file: path)
            format = .safetensors
            safetensors = weights
            gguf = nil
            tensors = weights.tensors
        }
    }

    /// The format of a file: the GGUF magic decides; otherwise the
    /// extension, so a malformed safetensors file still gets safetensors'
    /// precise error instead of "unknown format".
    static func sniff(_ file: MappedFile) throws -> CheckpointFormat {
        let head = file.withBytes { Array($0.prefix(4)) }
        if head == GGUFFile.magic { return .gguf }
        switch Paths.fileExtension(of: file.path) {
        case "gguf": return .gguf
        case "safetensors": return .safetensors
        default:
            // A safetensors header starts with a small length and then '{'.
            let looksLikeSafetensors = file.withBytes { bytes -> Bool in
                guard bytes.count >= 9 else { return false }
                let length = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
                return length < UInt64(SafetensorsFile.maximumHeaderLength) && bytes[8] == UInt8(ascii: "{")
            }
            if looksLikeSafetensors { return .safetensors }
            throw CheckpointError.unknownFormat(path: file.path)
        }
    }
}
