import Platform

/// A failure of the file system itself: opening, writing, renaming.
public enum FileError: Error, Sendable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case cannotWrite(path: String, reason: String)
    case cannotCreateDirectory(path: String, reason: String)
    case outputExists(path: String)
    case sameAsInput(path: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): "\(path): cannot open: \(reason)"
        case .cannotWrite(let path, let reason): "\(path): cannot write: \(reason)"
        case .cannotCreateDirectory(let path, let reason): "\(path): cannot create directory: \(reason)"
        case .outputExists(let path): "\(path): output already exists (pass --force to replace it)"
        case .sameAsInput(let path): "\(path): output would replace the input; choose another path"
        }
    }

    static func systemReason() -> String {
        String(cString: strerror(errno))
    }
}
