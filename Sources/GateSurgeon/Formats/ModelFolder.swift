/// What a folder given as a model is read as, decided from its names before
/// any weight is read, for the folders people have:
/// - a Hugging Face cache repository folder (`models--org--name/`, holding
///   `snapshots/<revision>/`, `refs/` and `blobs/`) is its one snapshot;
///   with several, the error lists them (and the one `refs/main` names);
/// - safetensors weights (files or an index) make a safetensors model
///   directory, as before;
/// - otherwise one GGUF model (a file, or one split set of parts) is that
///   model; several are refused with their names;
/// - otherwise PyTorch pickles (`pytorch_model.bin`, `.pt`, `.pth`,
///   `.ckpt`) are refused with the reason and the way out.
enum ModelFolder: Equatable {
    case safetensors(String)
    /// A GGUF file of the folder (any part, for a split model).
    case gguf(String)

    static func resolve(_ path: String) throws(CheckpointError) -> ModelFolder {
        let folder = try huggingFaceSnapshot(of: path) ?? path
        let names = Paths.entries(of: folder).filter { !$0.hasPrefix(".") && !Paths.isDirectory(Paths.join(folder, $0)) }
        if names.contains(where: { $0.hasSuffix(".safetensors") || $0.hasSuffix(".safetensors.index.json") }) {
            return .safetensors(folder)
        }
        let ggufs = names.filter { Paths.fileExtension(of: $0) == "gguf" }
        // The parts of one split model count once.
        var models: [String] = []
        var splits = Set<String>()
        for name in ggufs {
            if let part = GGUFSplit.PartName(path: name) {
                if splits.insert("\(part.prefix)/\(part.count)").inserted { models.append(name) }
            } else {
                models.append(name)
            }
        }
        if models.count == 1 { return .gguf(Paths.join(folder, models[0])) }
        if models.count > 1 { throw .severalGGUFModels(path: folder, files: models) }
        let pickles = names.filter(isPickle)
        if !pickles.isEmpty { throw .pickle(path: folder, files: pickles) }
        return .safetensors(folder)
    }

    /// Weight files PyTorch pickles (the training state `training_args.bin` aside).
    static func isPickle(_ name: String) -> Bool {
        let lower = name.lowercased()
        return [".pt", ".pth", ".ckpt"].contains { lower.hasSuffix($0) } || (lower.hasSuffix(".bin") && lower != "training_args.bin")
    }

    /// The snapshot folder of a Hugging Face cache repository folder (or of
    /// its `snapshots/` folder); nil when `path` is neither.
    static func huggingFaceSnapshot(of path: String) throws(CheckpointError) -> String? {
        var repository = Paths.normalized(path)
        if Paths.lastComponent(of: repository) == "snapshots", isCacheRepository(Paths.directory(of: repository)) {
            repository = Paths.directory(of: repository)
        }
        guard isCacheRepository(repository) else { return nil }
        let snapshotsFolder = Paths.join(repository, "snapshots")
        let snapshots = Paths.entries(of: snapshotsFolder).filter { !$0.hasPrefix(".") && Paths.isDirectory(Paths.join(snapshotsFolder, $0)) }
        guard snapshots.count == 1 else {
            throw .cacheSnapshots(path: repository, snapshots: snapshots, main: mainRevision(of: repository))
        }
        return Paths.join(snapshotsFolder, snapshots[0])
    }

    /// A folder laid out as huggingface_hub's cache lays out a repository.
    private static func isCacheRepository(_ path: String) -> Bool {
        Paths.isDirectory(Paths.join(path, "snapshots"))
            && (Paths.isDirectory(Paths.join(path, "blobs")) || Paths.isDirectory(Paths.join(path, "refs")))
    }

    /// The revision `refs/main` names, when it is a short text file.
    private static func mainRevision(of repository: String) -> String? {
        let path = Paths.join(Paths.join(repository, "refs"), "main")
        guard let bytes = try? Paths.readFile(path), bytes.count <= 256 else { return nil }
        let text = String(decoding: bytes, as: UTF8.self).filter { !$0.isWhitespace }
        return text.isEmpty ? nil : text
    }
}
