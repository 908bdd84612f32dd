/// A path a command will write, with what it will be: a file of a known
/// extension or a directory. Resolved once, at the edge, from what the user
/// typed, so every later step sees one normalized path and one kind.
///
/// A path is a directory when it ends in `/`, names an existing directory,
/// or has no extension; a file when its extension is one the caller
/// accepts. Anything else is refused rather than guessed: `out.bin` is
/// neither a file type gatesurgeon writes nor clearly a directory.
public struct OutputTarget: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case file
        case directory
    }

    /// The normalized path (no trailing slash).
    public let path: String
    public let kind: Kind
    /// The lower-case extension of a file target, "" for a directory.
    public let fileExtension: String

    public var description: String { path }

    /// Resolves `text` against the extensions the caller writes.
    /// - Parameter fileExtensions: lower-case extensions of accepted files.
    /// - Parameter allowsDirectory: whether a directory is an accepted output.
    public init(_ text: String, fileExtensions: [String], allowsDirectory: Bool) throws(OutputError) {
        let path = Paths.normalized(text)
        let trailingSlash = text.count > 1 && text.hasSuffix("/")
        let isExistingDirectory = Paths.isDirectory(path)
        let fileExtension = Paths.fileExtension(of: path)
        self.path = path
        if fileExtensions.contains(fileExtension) && trailingSlash {
            throw OutputError.unsupportedPath(path: text, problem: "ends in / but has the file extension '.\(fileExtension)'",
                                              expected: ["a .\(fileExtension) file without the slash", "a directory name without .\(fileExtension)"])
        }
        if fileExtensions.contains(fileExtension) {
            guard !isExistingDirectory else {
                throw OutputError.wrongKind(path: path, expected: "a .\(fileExtension) file", found: "a directory")
            }
            kind = .file
            self.fileExtension = fileExtension
            return
        }
        if trailingSlash || isExistingDirectory || fileExtension.isEmpty {
            guard allowsDirectory else {
                throw OutputError.unsupportedPath(path: path, problem: "is a directory path", expected: fileExtensions.map { "." + $0 })
            }
            if Paths.exists(path) && !isExistingDirectory {
                throw OutputError.wrongKind(path: path, expected: "a directory", found: "a file")
            }
            kind = .directory
            self.fileExtension = ""
            return
        }
        var expected = fileExtensions.map { "." + $0 }
        if allowsDirectory { expected.append("a directory (end the path in /)") }
        throw OutputError.unsupportedPath(path: path, problem: "has the extension '.\(fileExtension)'", expected: expected)
    }
}

extension OutputTarget {
    /// The checkpoint format written at this target: GGUF for a `.gguf`
    /// file, safetensors for a `.safetensors` file or a model directory.
    public var checkpointFormat: CheckpointFormat { fileExtension == "gguf" ? .gguf : .safetensors }

    /// A model output: a `.safetensors` or `.gguf` file, or a directory.
    public init(model text: String) throws(OutputError) {
        try self.init(text, fileExtensions: ["safetensors", "gguf"], allowsDirectory: true)
    }
}
