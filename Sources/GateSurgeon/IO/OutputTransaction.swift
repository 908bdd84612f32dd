import Platform

/// The outputs of one command, checked against its inputs before any work,
/// written under temporary names beside their final paths, and moved into
/// place together by `commit()`. Whatever is not committed is removed, so a
/// failed, interrupted or killed run never leaves a partial output where the
/// user asked for one, and never touches anything gatesurgeon did not write.
///
/// Rules, for every output:
/// - it is never an input, inside an input directory, or a directory that
///   holds an input (paths compared after resolving links and `..`, files
///   also by device and inode);
/// - an existing file, or a non-empty directory, is replaced only when
///   `replacing` is set; a directory is then written into: the files the
///   output writes replace files of the same names, every other file stays,
///   and weight files the output would not replace are refused, so the
///   directory never ends up holding two models (`save_pretrained` writes
///   into an existing directory the same way);
/// - temporary names are `.NAME.gatesurgeon-partial-PID-N`; partials that a
///   killed run left beside an output are removed by the next run that
///   writes there, once their process is gone.
///
///     let transaction = OutputTransaction(inputs: ["model/"], replacing: false)
///     let path = try transaction.stage(OutputTarget("out.gguf", fileExtensions: ["gguf"], allowsDirectory: false))
///     try write(to: path)
///     try transaction.commit()
public final class OutputTransaction {
    private struct Input {
        var path: String
        var resolved: String
        var identity: FileIdentity?
    }

    private struct Staged {
        var target: OutputTarget
        var temporaryPath: String
        /// The directory exists and holds files: write into it on commit.
        var mergesIntoExistingDirectory: Bool
    }

    private let inputs: [Input]
    /// The files inside input directories, by identity: an output that is a
    /// hard link to one of them is that input under another name.
    private let filesInsideInputs: [FileIdentity: String]
    public let replacing: Bool
    private var staged: [Staged] = []
    private var committed = false
    /// Partial outputs of killed runs that staging removed.
    public private(set) var removedStalePartials: [String] = []

    /// - Parameter inputs: every path the command reads (models, configs,
    ///   tokenizers, matrices); outputs may not overlap them, nor the other
    ///   files each stands for (`filesReadWith`).
    /// - Parameter replacing: whether existing outputs may be replaced.
    public init(inputs: [String], replacing: Bool) {
        self.inputs = inputs.flatMap(Self.filesReadWith).map { Input(path: $0, resolved: Paths.resolved($0), identity: Paths.identity(of: $0)) }
        var inside: [FileIdentity: String] = [:]
        for input in inputs where Paths.isDirectory(input) {
            for name in Paths.entries(of: input) {
                let file = Paths.join(input, name)
                if let identity = Paths.identity(of: file), !Paths.isDirectory(file) { inside[identity] = file }
            }
        }
        filesInsideInputs = inside
        self.replacing = replacing
    }

    /// `input` and the files reading it reads too: every part of a split
    /// GGUF model, given any part; the files a folder's symbolic links point
    /// to (a Hugging Face cache snapshot links into the repository's blobs/).
    static func filesReadWith(_ input: String) -> [String] {
        var paths = [input]
        if let part = GGUFSplit.PartName(path: input) {
            let folder = Paths.directory(of: part.prefix)
            let stem = Paths.lastComponent(of: part.prefix)
            for entry in Paths.entries(of: folder) {
                guard let sibling = GGUFSplit.PartName(path: entry), sibling.prefix == stem, sibling.count == part.count,
                    sibling.number != part.number
                else { continue }
                paths.append(Paths.join(folder, entry))
            }
        }
        if Paths.isDirectory(input) {
            for entry in Paths.entries(of: input) where Paths.isSymbolicLink(Paths.join(input, entry)) {
                paths.append(Paths.resolved(Paths.join(input, entry)))
            }
        }
        return paths
    }

    deinit {
        if !committed { rollBack() }
    }

    /// Checks `target` against the inputs, the other outputs and what is
    /// already there, without creating anything.
    /// - Parameter files: for a directory, the names the output will write,
    ///   when known, so weight files it would leave behind are refused now.
    public func check(_ target: OutputTarget, files: [String]? = nil) throws(OutputError) {
        let resolved = Paths.resolved(target.path)
        let identity = Paths.identity(of: target.path)
        for input in inputs {
            if resolved == input.resolved || (identity != nil && identity == input.identity) {
                throw OutputError.isInput(path: target.path, input: input.path)
            }
            if Paths.isSameOrInside(resolved, input.resolved) {
                throw OutputError.insideInput(path: target.path, input: input.path)
            }
            if target.kind == .directory && Paths.isSameOrInside(input.resolved, resolved) {
                throw OutputError.containsInput(path: target.path, input: input.path)
            }
        }
        if let identity, let file = filesInsideInputs[identity] {
            throw OutputError.isInput(path: target.path, input: file)
        }
        if target.kind == .directory && Paths.isDirectory(target.path) {
            // A file of the directory hard-linked to an input: written into, it would be replaced.
            for name in Paths.entries(of: target.path) {
                guard let held = Paths.identity(of: Paths.join(target.path, name)) else { continue }
                if let file = filesInsideInputs[held] ?? inputs.first(where: { $0.identity == held })?.path {
                    throw OutputError.containsInput(path: target.path, input: file)
                }
            }
        }
        for other in staged where Paths.resolved(other.target.path) == resolved {
            throw OutputError.duplicate(path: target.path)
        }
        let parent = Paths.directory(of: target.path)
        guard Paths.isDirectory(parent) else {
            throw OutputError.cannotCreate(path: target.path, reason: "the folder \(parent) does not exist")
        }
        guard access(parent, W_OK) == 0 else {
            throw OutputError.cannotCreate(path: target.path, reason: "the folder \(parent) is not writable")
        }
        switch target.kind {
        case .file:
            if Paths.exists(target.path) {
                if Paths.isDirectory(target.path) {
                    throw OutputError.wrongKind(path: target.path, expected: "a file", found: "a directory")
                }
                if !replacing { throw OutputError.exists(path: target.path, isDirectory: false) }
            }
        case .directory:
            let existing = Paths.entries(of: target.path)
            if !existing.isEmpty {
                if !replacing { throw OutputError.exists(path: target.path, isDirectory: true) }
                if let files { try Self.refuseLeftoverWeights(in: target.path, existing: existing, written: files) }
            }
        }
    }

    /// Checks `target` and prepares it: returns the path to write, a file
    /// path or an empty directory to fill.
    @discardableResult
    public func stage(_ target: OutputTarget, files: [String]? = nil) throws(OutputError) -> String {
        try check(target, files: files)
        let parent = Paths.directory(of: target.path)
        let name = Paths.lastComponent(of: target.path)
        removedStalePartials += PendingOutputs.removeStalePartials(of: name, in: parent)
        let temporary = Paths.join(parent, ".\(name)\(PendingOutputs.marker)\(getpid())-\(PendingOutputs.nextSerial())")
        PendingOutputs.register(temporary, isDirectory: target.kind == .directory)
        if target.kind == .directory {
            guard mkdir(temporary, 0o755) == 0 else {
                let reason = systemErrorReason()
                PendingOutputs.unregister(temporary)
                throw OutputError.cannotCreate(path: target.path, reason: reason)
            }
        }
        let merges = target.kind == .directory && !Paths.entries(of: target.path).isEmpty
        staged.append(Staged(target: target, temporaryPath: temporary, mergesIntoExistingDirectory: merges))
        return temporary
    }

    /// Moves every staged output into place. Everything that can fail is
    /// checked first, so either all outputs appear or (barring a failing
    /// disk) none does.
    public func commit() throws(OutputError) {
        precondition(!committed, "an output transaction commits once")
        for output in staged where output.mergesIntoExistingDirectory {
            let written = Paths.entries(of: output.temporaryPath)
            let existing = Paths.entries(of: output.target.path)
            try Self.refuseLeftoverWeights(in: output.target.path, existing: existing, written: written)
            for name in written where Paths.isDirectory(Paths.join(output.target.path, name)) {
                throw OutputError.wrongKind(path: Paths.join(output.target.path, name), expected: "a file", found: "a directory")
            }
        }
        for output in staged {
            if output.mergesIntoExistingDirectory {
                for name in Paths.entries(of: output.temporaryPath) {
                    guard rename(Paths.join(output.temporaryPath, name), Paths.join(output.target.path, name)) == 0 else {
                        throw OutputError.cannotCommit(path: Paths.join(output.target.path, name), reason: systemErrorReason())
                    }
                }
                rmdir(output.temporaryPath)
            } else {
                guard rename(output.temporaryPath, output.target.path) == 0 else {
                    throw OutputError.cannotCommit(path: output.target.path, reason: systemErrorReason())
                }
            }
            PendingOutputs.unregister(output.temporaryPath)
        }
        committed = true
    }

    /// Removes every staged output.
    private func rollBack() {
        for output in staged {
            Paths.removeTree(output.temporaryPath)
            PendingOutputs.unregister(output.temporaryPath)
        }
        staged.removeAll()
    }

    /// Files that make a folder a model: weights, shard indexes, configs of weights.
    static func isWeightFile(_ name: String) -> Bool {
        let lower = name.lowercased()
        return [".safetensors", ".gguf", ".safetensors.index.json", ".bin", ".bin.index.json", ".pt", ".pth"].contains { lower.hasSuffix($0) }
    }

    private static func refuseLeftoverWeights(in path: String, existing: [String], written: [String]) throws(OutputError) {
        let leftover = existing.filter { isWeightFile($0) && !written.contains($0) && !$0.hasPrefix(".") }
        if !leftover.isEmpty { throw OutputError.leftoverWeights(path: path, files: leftover) }
    }
}
