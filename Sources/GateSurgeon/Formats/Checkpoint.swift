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
/// a model directory of safetensors shards, or a `.gguf` file.
public enum Checkpoint: Sendable {
    case safetensors(SafetensorsCheckpoint)
    case gguf(GGUFFile)

    /// Opens `path`, choosing the format from a directory, the extension, or
    /// the first bytes of the file.
    public init(path: String) throws {
        guard Paths.exists(path) else { throw CheckpointError.notFound(path: path) }
        if Paths.isDirectory(path) {
            self = .safetensors(try SafetensorsCheckpoint(directory: path))
            return
        }
        let file = try MappedFile(path: path)
        switch try Checkpoint.sniff(file) {
        case .gguf: self = .gguf(try GGUFFile(file: file))
        case .safetensors: self = .safetensors(try SafetensorsCheckpoint(file: path))
        }
    }

    /// The path it was opened from (a file, or a model directory).
    public var path: String {
        switch self {
        case .safetensors(let checkpoint): checkpoint.path
        case .gguf(let file): file.path
        }
    }

    public var format: CheckpointFormat {
        switch self {
        case .safetensors: .safetensors
        case .gguf: .gguf
        }
    }

    /// Every tensor, in file order (shard by shard for a directory).
    public var tensors: [StoredTensor] {
        switch self {
        case .safetensors(let checkpoint): checkpoint.tensors
        case .gguf(let file): file.tensors
        }
    }

    /// True for a model directory, whose tensors may come from several files.
    public var isMultiFile: Bool {
        if case .safetensors(let checkpoint) = self { return checkpoint.isDirectory }
        return false
    }

    /// The safetensors side, when it is one.
    public var safetensors: SafetensorsCheckpoint? {
        if case .safetensors(let checkpoint) = self { return checkpoint }
        return nil
    }

    /// The GGUF file, when it is one.
    public var gguf: GGUFFile? {
        if case .gguf(let file) = self { return file }
        return nil
    }

    /// The format of a file: the GGUF magic decides; otherwise the
    /// extension, so a malformed safetensors file still gets safetensors'
    /// precise error instead of "unknown format"; otherwise a header that
    /// starts like safetensors (a length under the cap, then '{').
    static func sniff(_ file: MappedFile) throws -> CheckpointFormat {
        let (magic, length, brace) = file.withParserSpan { input in
            var peek = input
            let magic = try? peek.readBytes(byteCount: 4)
            peek = input
            let length = try? peek.read(UInt64.self, endianness: .little)
            let brace = try? peek.read(UInt8.self)
            return (magic, length, brace)
        }
        if magic == GGUFFile.magic { return .gguf }
        switch Paths.fileExtension(of: file.path) {
        case "gguf": return .gguf
        case "safetensors": return .safetensors
        default:
            if let length, length < UInt64(SafetensorsFile.maximumHeaderLength), brace == UInt8(ascii: "{") {
                return .safetensors
            }
            throw CheckpointError.unknownFormat(path: file.path)
        }
    }
}
