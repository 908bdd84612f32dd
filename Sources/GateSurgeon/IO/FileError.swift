import Platform

/// A failure of the file system itself: opening, writing, renaming.
public enum FileError: Error, Sendable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case cannotWrite(path: String, reason: String)
    case cannotCreateDirectory(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): "\(path): cannot open: \(reason)"
        case .cannotWrite(let path, let reason): "\(path): cannot write: \(reason)"
        case .cannotCreateDirectory(let path, let reason): "\(path): cannot create directory: \(reason)"
        }
    }

    static func systemReason() -> String {
        String(cString: strerror(errno))
    }
}
