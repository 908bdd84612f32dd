import Platform

import Synchronization

/// An output path that appears all at once or not at all.
///
/// Everything is written under a hidden temporary name beside the final
/// path (same file system, so the final `rename` is atomic); `commit` moves
/// it into place, and anything that is not committed is removed, so a failed
/// or interrupted run never leaves a partial checkpoint behind.
public final class AtomicOutput {
    public enum Kind: Sendable { case file, directory }

    public let finalPath: String
    public let temporaryPath: String
    public let kind: Kind
    private var committed = false

    /// Prepares an output at `path`; with `replacing` false an existing path
    /// is an error.
    public init(path: String, kind: Kind, replacing: Bool) throws(FileError) {
        finalPath = path
        self.kind = kind
        var info = stat()
        if lstat(path, &info) == 0 && !replacing {
            throw FileError.outputExists(path: path)
        }
        let directory = Paths.directory(of: path)
        let name = Paths.lastComponent(of: path)
        temporaryPath = Paths.join(directory, ".\(name).partial-\(getpid())")
        Paths.removeTree(temporaryPath)
        _ = AtomicOutput.pending.withLock { $0.insert(temporaryPath) }
        if kind == .directory {
            guard mkdir(temporaryPath, 0o755) == 0 else {
                throw FileError.cannotCreateDirectory(path: temporaryPath, reason: FileError.systemReason())
            }
        }
    }

    deinit {
        if !committed { Paths.removeTree(temporaryPath) }
        _ = AtomicOutput.pending.withLock { $0.remove(temporaryPath) }
    }

    /// Path of a file inside a directory output.
    public func path(forFile name: String) -> String {
        precondition(kind == .directory)
        return Paths.join(temporaryPath, name)
    }

    /// Moves the finished output into place, replacing what was there.
    public func commit() throws(FileError) {
        var info = stat()
        if kind == .directory && lstat(finalPath, &info) == 0 {
            // rename(2) cannot replace a non-empty directory: move the old
            // one aside first, then drop it once the new one is in place.
            let aside = temporaryPath + ".old"
            guard rename(finalPath, aside) == 0 else {
                throw FileError.cannotWrite(path: finalPath, reason: FileError.systemReason())
            }
            guard rename(temporaryPath, finalPath) == 0 else {
                let reason = FileError.systemReason()
                _ = rename(aside, finalPath)
                throw FileError.cannotWrite(path: finalPath, reason: reason)
            }
            Paths.removeTree(aside)
        } else {
            guard rename(temporaryPath, finalPath) == 0 else {
                throw FileError.cannotWrite(path: finalPath, reason: FileError.systemReason())
            }
        }
        committed = true
    }

    /// Temporary paths not yet committed, removed if the process is interrupted.
    /// Outputs are created from many threads at once (tests, library users),
    /// so the set is behind a lock.
    static let pending = Mutex<Set<String>>([])

    /// Makes SIGINT and SIGTERM remove uncommitted outputs before the
    /// process exits, so an interrupted conversion leaves nothing behind.
    public static func removePendingOutputsOnInterrupt() {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber) { received in
                // A handler must not wait on a lock the interrupted thread may hold.
                _ = AtomicOutput.pending.withLockIfAvailable { paths in
                    for path in paths { Paths.removeTree(path) }
                }
                signal(received, SIG_DFL)
                raise(received)
            }
        }
    }
}
