/// The two file formats gatesurgeon reads and writes.
public enum CheckpointFormat: String, Sendable, CaseIterable {
    case safetensors
    case gguf
}

/// Why a path could not be opened as a checkpoint at all.
public enum CheckpointError: Error, Sendable, CustomStringConvertible {
    case notFound(path: String)
    case unknownFormat(path: String)
    /// PyTorch pickle weights (`pytorch_model.bin`, `.pt`, `.pth`): loading
    /// one runs code it contains, so they are not read at all. `files`: the
    /// pickles of a folder; empty when `path` is the pickle itself.
    case pickle(path: String, files: [String])
    /// A Hugging Face cache repository folder (`models--org--name/`) whose
    /// `snapshots/` holds no snapshot, or several (`main`: the one `refs/main` names).
    case cacheSnapshots(path: String, snapshots: [String], main: String?)
    /// A folder without safetensors weights that holds several GGUF models.
    case severalGGUFModels(path: String, files: [String])

    public var description: String {
        switch self {
        case .notFound(let path): "\(path): no such file or directory"
        case .unknownFormat(let path):
            "\(path): not a safetensors or GGUF file (expected a .safetensors or .gguf file, or a model directory)"
        case .pickle(let path, let files) where files.isEmpty:
            "\(path): a PyTorch pickle, which gatesurgeon does not read (unpickling runs code the file contains); save its tensors as safetensors first, e.g. in Python: safetensors.torch.save_file(torch.load(\"\(path)\", weights_only=True), \"OUT.safetensors\")"
        case .pickle(let path, let files):
            "\(path): \(Self.list(files)) \(files.count == 1 ? "is a PyTorch pickle" : "are PyTorch pickles"), which gatesurgeon does not read (unpickling runs code the file contains); save the model as safetensors first, e.g. in Python: AutoModelForCausalLM.from_pretrained(\"\(path)\").save_pretrained(\"OUT\"), then give OUT"
        case .cacheSnapshots(let path, let snapshots, let main):
            if snapshots.isEmpty {
                "\(path): a Hugging Face cache folder whose snapshots/ folder holds no snapshot (an unfinished download?)"
            } else {
                "\(path): a Hugging Face cache folder with \(snapshots.count) snapshots; give one: "
                    + snapshots.map { Paths.join(Paths.join(path, "snapshots"), $0) + ($0 == main ? " (refs/main)" : "") }.joined(separator: ", ")
            }
        case .severalGGUFModels(let path, let files):
            "\(path): holds \(files.count) GGUF models and no safetensors weights (\(Self.list(files))); give one file"
        }
    }

    /// Up to four names, then how many more.
    private static func list(_ names: [String]) -> String {
        names.count <= 4 ? names.joined(separator: ", ") : names.prefix(3).joined(separator: ", ") + " and \(names.count - 3) more"
    }
}

/// A checkpoint of either format, opened read-only: a `.safetensors` file,
/// a model directory of safetensors shards, or a GGUF model (one `.gguf`
/// file, or the parts of a split one).
public enum Checkpoint: Sendable {
    case safetensors(SafetensorsCheckpoint)
    case gguf(GGUFModel)

    /// Opens `path`, choosing the format from a directory, the extension, or
    /// the first bytes of the file. A folder is read as `ModelFolder`
    /// resolves it (a Hugging Face cache folder's snapshot, a folder's one
    /// GGUF model); a GGUF part opens its whole split model.
    public init(path: String) throws {
        guard Paths.exists(path) else { throw CheckpointError.notFound(path: path) }
        if Paths.isDirectory(path) {
            switch try ModelFolder.resolve(path) {
            case .safetensors(let directory): self = .safetensors(try SafetensorsCheckpoint(directory: directory))
            case .gguf(let file): self = .gguf(try GGUFModel(path: file))
            }
            return
        }
        let file = try MappedFile(path: path)
        switch try Checkpoint.sniff(file) {
        case .gguf: self = .gguf(try GGUFModel(file: try GGUFFile(file: file)))
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

    /// Every tensor, in file order (shard by shard for a directory, part by
    /// part for a split GGUF).
    public var tensors: [StoredTensor] {
        switch self {
        case .safetensors(let checkpoint): checkpoint.tensors
        case .gguf(let file): file.tensors
        }
    }

    /// True for a model directory or a split GGUF, whose tensors may come
    /// from several files.
    public var isMultiFile: Bool {
        switch self {
        case .safetensors(let checkpoint): checkpoint.isDirectory
        case .gguf(let model): model.isSplit
        }
    }

    /// The safetensors side, when it is one.
    public var safetensors: SafetensorsCheckpoint? {
        if case .safetensors(let checkpoint) = self { return checkpoint }
        return nil
    }

    /// The GGUF model, when it is one.
    public var gguf: GGUFModel? {
        if case .gguf(let model) = self { return model }
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
        let fileExtension = Paths.fileExtension(of: file.path)
        // PyTorch writes zip archives (since 1.6) or bare pickles (protocol byte 0x80).
        let pickleMagic = magic.map { $0.starts(with: [0x50, 0x4B, 0x03, 0x04]) || $0.first == 0x80 } ?? false
        if ["pt", "pth"].contains(fileExtension) || (fileExtension == "bin" && pickleMagic) {
            throw CheckpointError.pickle(path: file.path, files: [])
        }
        switch fileExtension {
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
