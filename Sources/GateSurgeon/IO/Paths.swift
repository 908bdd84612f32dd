import Platform

/// Small path helpers over POSIX calls, so the library needs no Foundation
/// file manager on the hot path and behaves the same on Linux and macOS.
package enum Paths {
    package static func join(_ directory: String, _ name: String) -> String {
        if directory.isEmpty || directory == "." { return name }
        return directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// `path` with repeated slashes collapsed, `.` components and a trailing
    /// slash removed ("/" stays "/"). `..` is kept: resolving it without the
    /// file system would be wrong across symbolic links.
    package static func normalized(_ path: String) -> String {
        let isAbsolute = path.hasPrefix("/")
        let components = path.split(separator: "/").filter { $0 != "." }
        let joined = components.joined(separator: "/")
        if isAbsolute { return "/" + joined }
        return joined.isEmpty ? "." : joined
    }

    /// The absolute path with every symbolic link and `..` resolved, as far
    /// as the path exists; the part that does not exist yet is appended
    /// as written. Two paths that name one file resolve to the same text
    /// (hard links aside, which `identity(of:)` tells).
    package static func resolved(_ path: String) -> String {
        var existing = normalized(path)
        var missing: [String] = []
        while realPath(existing) == nil {
            let parent = directory(of: existing)
            if parent == existing { break }
            missing.insert(lastComponent(of: existing), at: 0)
            existing = parent
        }
        var result = realPath(existing) ?? existing
        for name in missing { result = result == "/" ? "/" + name : result + "/" + name }
        return result
    }

    private static func realPath(_ path: String) -> String? {
        guard let pointer = realpath(path, nil) else { return nil }
        defer { free(pointer) }
        return String(cString: pointer)
    }

    /// Whether `path` is `ancestor` or lies inside it; both already `resolved`.
    package static func isSameOrInside(_ path: String, _ ancestor: String) -> Bool {
        path == ancestor || path.hasPrefix(ancestor == "/" ? "/" : ancestor + "/")
    }

    package static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    package static func lastComponent(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return String(trimmed) }
        return String(trimmed[trimmed.index(after: slash)...])
    }

    package static func fileExtension(of path: String) -> String {
        let name = lastComponent(of: path)
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "" }
        return String(name[name.index(after: dot)...]).lowercased()
    }

    package static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    package static func isSymbolicLink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
    }

    package static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// Identity of a file (device and inode), to tell when two paths are one file.
    package static func identity(of path: String) -> FileIdentity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileIdentity(device: UInt64(truncatingIfNeeded: info.st_dev), inode: UInt64(truncatingIfNeeded: info.st_ino))
    }

    /// Names in a directory, sorted, without "." and "..".
    package static func entries(of directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Reads a whole small file (configs, indexes).
    package static func readFile(_ path: String) throws(FileError) -> [UInt8] {
        let file = try MappedFile(path: path)
        return file.withBytes { Array($0) }
    }

    /// Writes `text` as the whole content of `path` (a new file, or one
    /// inside an `AtomicOutput`'s temporary path).
    package static func writeText(_ text: String, to path: String) throws {
        let file = try OutputFile(creating: path)
        try file.write(text)
        try file.close()
    }

    /// Copies a regular file byte for byte.
    package static func copyFile(from source: String, to destination: String) throws {
        let input = try MappedFile(path: source)
        let output = try OutputFile(creating: destination)
        try input.withBytes { bytes in try output.write(bytes) }
        try output.close()
    }

    /// Removes a file or a directory tree, ignoring what is not there.
    package static func removeTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for entry in Paths.entries(of: path) {
                removeTree(Paths.join(path, entry))
            }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

/// A file's device and inode: equal for two paths that name one file.
package struct FileIdentity: Sendable, Hashable {
    package var device: UInt64
    package var inode: UInt64
}
