/// Why an output cannot be written where it was asked for. Every case is
/// found before any work starts, except a failing commit.
public enum OutputError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A file, or a directory that is not empty, is already there.
    case exists(path: String, isDirectory: Bool)
    /// The output is one of the inputs (same path after resolving links, or same file).
    case isInput(path: String, input: String)
    /// The output lies inside an input directory.
    case insideInput(path: String, input: String)
    /// The output is a directory that holds an input.
    case containsInput(path: String, input: String)
    /// Two outputs of one command are the same path.
    case duplicate(path: String)
    /// The path's form is not one the command writes.
    case unsupportedPath(path: String, problem: String, expected: [String])
    /// The path names the wrong kind of thing (a directory where a file is written).
    case wrongKind(path: String, expected: String, found: String)
    /// The directory holds weight files the new output would not replace, so
    /// afterwards it would hold two models.
    case leftoverWeights(path: String, files: [String])
    /// The parent directory is missing or not writable.
    case cannotCreate(path: String, reason: String)
    /// Moving the finished output into place failed.
    case cannotCommit(path: String, reason: String)

    public var path: String {
        switch self {
        case .exists(let path, _), .isInput(let path, _), .insideInput(let path, _), .containsInput(let path, _),
            .duplicate(let path), .unsupportedPath(let path, _, _), .wrongKind(let path, _, _),
            .leftoverWeights(let path, _), .cannotCreate(let path, _), .cannotCommit(let path, _):
            path
        }
    }

    public var description: String {
        switch self {
        case .exists(let path, let isDirectory):
            isDirectory ? "\(path): output directory already exists and is not empty" : "\(path): output already exists"
        case .isInput(let path, let input):
            path == input ? "\(path): output is an input; writing it would destroy the input" : "\(path): output is the input \(input)"
        case .insideInput(let path, let input):
            "\(path): output lies inside the input directory \(input)"
        case .containsInput(let path, let input):
            "\(path): output directory would contain the input \(input)"
        case .duplicate(let path):
            "\(path): named as two outputs of one command"
        case .unsupportedPath(let path, let problem, let expected):
            "\(path): output path \(problem); expected \(expected.joined(separator: ", "))"
        case .wrongKind(let path, let expected, let found):
            "\(path): output should be \(expected), but \(found) is there"
        case .leftoverWeights(let path, let files):
            "\(path): directory holds weight files this output would not replace (\(files.joined(separator: ", "))); it would hold two models"
        case .cannotCreate(let path, let reason):
            "\(path): cannot create output: \(reason)"
        case .cannotCommit(let path, let reason):
            "\(path): cannot move the finished output into place: \(reason)"
        }
    }
}
