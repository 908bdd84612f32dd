import Platform

/// A file mapped read-only into memory; the owner of the mapping.
///
/// Tensor views borrow its bytes through `withBytes`, so a checkpoint of any
/// size costs address space, not resident memory: the kernel pages data in
/// as it is read and may drop it again.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let size: Int
    private let base: UnsafeRawPointer?

    /// Maps `path`; an empty file maps to an empty buffer.
    public init(path: String) throws(FileError) {
        self.path = path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileError.cannotOpen(path: path, reason: FileError.systemReason()) }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw FileError.cannotOpen(path: path, reason: FileError.systemReason())
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw FileError.cannotOpen(path: path, reason: "not a regular file")
        }
        size = Int(info.st_size)
        if size == 0 {
            base = nil
            return
        }
        let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw FileError.cannotOpen(path: path, reason: "mmap failed: " + FileError.systemReason())
        }
        base = UnsafeRawPointer(mapped)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }

    /// Calls `body` with the whole mapped file.
    public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: base, count: size))
    }

    /// Calls `body` with the bytes of `range`, which must lie inside the file.
    public func withBytes<R, E: Error>(
        in range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        precondition(range.lowerBound >= 0 && range.upperBound <= size, "range outside the mapped file")
        return try body(UnsafeRawBufferPointer(start: base.map { $0 + range.lowerBound }, count: range.count))
    }

    /// Tells the kernel the pages of `range` will not be read again soon, so
    /// streaming a checkpoint larger than memory does not evict everything else.
    public func releasePages(in range: Range<Int>) {
        guard let base, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = range.lowerBound / page * page
        madvise(UnsafeMutableRawPointer(mutating: base + start), range.upperBound - start, Int32(MADV_DONTNEED))
    }
}
