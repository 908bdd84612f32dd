import CSignalCleanup
import Platform

/// A file mapped read-only into memory; the owner of the mapping.
///
/// Tensor views borrow its bytes through `withBytes`, so a checkpoint of any
/// size costs address space, not resident memory: the kernel pages data in
/// as it is read and may drop it again.
///
/// Only regular files are mapped. The file is opened without blocking
/// (`O_NONBLOCK`) and checked with `fstat` before anything is read, so a FIFO,
/// socket or device given as an input is refused at once instead of waiting
/// for a writer forever.
///
/// If another program truncates the file while it is mapped, reading the
/// lost pages raises SIGBUS; the executable's handler
/// (`PendingOutputs.removeOnBusError()`) names this file, removes unfinished
/// outputs and exits with status 2. The mapping is registered for that
/// while it exists.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let size: Int
    private let base: UnsafeRawPointer?
    /// Slot in the SIGBUS handler's table of mappings, or -1.
    private let faultSlot: Int32
    /// Whether `base` is a heap copy (`init(copying:path:)`) rather than a mapping.
    private let isHeapCopy: Bool

    /// Maps `path`; an empty file maps to an empty buffer.
    public init(path: String) throws(FileError) {
        self.path = path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard descriptor >= 0 else { throw FileError.cannotOpen(path: path, reason: FileError.systemReason()) }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw FileError.cannotOpen(path: path, reason: FileError.systemReason())
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw FileError.notRegularFile(path: path, kind: FileError.kindName(mode: info.st_mode))
        }
        guard let size = Int(exactly: info.st_size), size >= 0 else {
            throw FileError.cannotOpen(path: path, reason: "size \(info.st_size) is not addressable")
        }
        self.size = size
        isHeapCopy = false
        if size == 0 {
            base = nil
            faultSlot = -1
            return
        }
        let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw FileError.cannotOpen(path: path, reason: "mmap failed: " + FileError.systemReason())
        }
        base = UnsafeRawPointer(mapped)
        faultSlot = gs_mapping_register(mapped, size, path)
    }

    /// A file's bytes held in memory under the name `path`, read by the same
    /// parsers as a mapping; nothing is opened. For callers that already hold
    /// the bytes (the fuzz targets), so hostile input reaches every reader
    /// without touching the file system.
    init(copying bytes: [UInt8], path: String) {
        self.path = path
        size = bytes.count
        isHeapCopy = true
        faultSlot = -1
        guard !bytes.isEmpty else {
            base = nil
            return
        }
        let copy = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 64)
        bytes.withUnsafeBytes { copy.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        base = UnsafeRawPointer(copy)
    }

    deinit {
        if isHeapCopy {
            base.map { UnsafeMutableRawPointer(mutating: $0).deallocate() }
            return
        }
        gs_mapping_unregister(faultSlot)
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

    /// Calls `body` with a parser over the whole file (positions from 0);
    /// errors name the file.
    public func withParserSpan<R, E: Error>(_ body: (inout ParserSpan) throws(E) -> R) throws(E) -> R {
        try withParserSpan(in: 0..<size, body)
    }

    /// Calls `body` with a parser over `range` of the file, which must lie
    /// inside it; positions stay absolute file offsets.
    public func withParserSpan<R, E: Error>(
        in range: Range<Int>, _ body: (inout ParserSpan) throws(E) -> R
    ) throws(E) -> R {
        try withBytes(in: range) { (bytes) throws(E) in
            var span = ParserSpan(unsafeBytes: bytes, startPosition: range.lowerBound, source: path)
            return try body(&span)
        }
    }

    /// Maps the pages of `range` in one call before they are read, instead
    /// of one page fault per few pages during the read (Linux's
    /// `MADV_POPULATE_READ`; elsewhere, or when refused, a read-ahead hint).
    public func prefetch(_ range: Range<Int>) {
        guard let base, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = range.lowerBound / page * page
        let end = min(size, range.upperBound)
        guard end > start else { return }
        let address = UnsafeMutableRawPointer(mutating: base + start)
        #if os(Linux)
        let populateRead: Int32 = 22  // MADV_POPULATE_READ, Linux 5.14
        if madvise(address, end - start, populateRead) == 0 { return }
        #endif
        madvise(address, end - start, Int32(MADV_WILLNEED))
    }

    /// Tells the kernel the pages of `range` will not be read again soon, so
    /// streaming a checkpoint larger than memory does not evict everything else.
    public func releasePages(in range: Range<Int>) {
        guard let base, !range.isEmpty, !isHeapCopy else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = range.lowerBound / page * page
        madvise(UnsafeMutableRawPointer(mutating: base + start), range.upperBound - start, Int32(MADV_DONTNEED))
    }
}
