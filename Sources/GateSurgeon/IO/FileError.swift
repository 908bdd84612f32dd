import Platform

/// A failure of the file system itself: opening, writing, renaming.
public enum FileError: Error, Sendable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    /// An input is a FIFO, socket, device or directory where a file is read.
    case notRegularFile(path: String, kind: String)
    case cannotWrite(path: String, reason: String)
    case cannotCreateDirectory(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): "\(path): cannot open: \(reason)"
        case .notRegularFile(let path, let kind): "\(path): cannot open: not a regular file (it is \(kind))"
        case .cannotWrite(let path, let reason): "\(path): cannot write: \(reason)"
        case .cannotCreateDirectory(let path, let reason): "\(path): cannot create directory: \(reason)"
        }
    }

    static func systemReason() -> String {
        String(cString: strerror(errno))
    }

    /// "a FIFO", "a socket", ... for a `st_mode`.
    static func kindName(mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFIFO: "a FIFO"
        case S_IFSOCK: "a socket"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFDIR: "a directory"
        case S_IFLNK: "a symbolic link"
        default: "of another kind"
        }
    }
}
