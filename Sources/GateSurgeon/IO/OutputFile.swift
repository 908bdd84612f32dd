import CSystemExtensions
import Dispatch
import Platform

/// A buffered, append-only file writer that counts what it wrote.
///
/// Writers stream through it tensor by tensor, so peak memory is the two
/// buffers plus one tensor being converted, whatever the checkpoint's size.
/// Binary values are written through `BinaryOutput` (`write(_:endianness:)`).
///
/// Writing overlaps producing: a full buffer goes to a writer thread, which
/// hands it to the kernel with one large `write(2)` and starts its writeback
/// at once (`sync_file_range`), while the caller fills the other buffer; so
/// the `fsync` of `close()` waits for little more than the last buffer.
/// Producers that compute their bytes (casts) write them straight into the
/// buffer (`write(count:_:)`), and unchanged byte ranges of an input file
/// are copied by the kernel (`copy(from:range:)`, `copy_file_range(2)`).
///
/// A file created inside a staged output (`OutputTransaction.stage`) is
/// registered with `PendingOutputs` before it exists, so the signal cleanup
/// removes it if the run dies before committing.
public final class OutputFile: BinaryOutput {
    public let path: String
    private var descriptor: Int32
    /// The buffer being filled and the one the writer thread may be writing.
    private var buffer: UnsafeMutableRawBufferPointer
    private var spare: UnsafeMutableRawBufferPointer
    private var filled = 0
    /// The bytes handed to the kernel or the writer thread so far.
    private var flushedBytes = 0
    private let writer = DispatchQueue(label: "gatesurgeon.output-file")
    private let inFlight = DispatchGroup()
    /// The writer thread's failure, reported by the next call.
    private let failure = FirstFailure()

    /// Bytes one buffer holds: the most `write(count:_:)` produces in one call.
    public static let bufferCapacity = 1 << 23

    /// Bytes written so far, buffered ones included.
    public private(set) var position: Int = 0

    /// Creates (or truncates) `path` for writing.
    public init(creating path: String) throws(FileError) {
        self.path = path
        PendingOutputs.registerCreatedFile(path)
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FileError.cannotWrite(path: path, reason: FileError.systemReason()) }
        buffer = .allocate(byteCount: Self.bufferCapacity, alignment: 4096)
        spare = .allocate(byteCount: Self.bufferCapacity, alignment: 4096)
    }

    deinit {
        inFlight.wait()
        if descriptor >= 0 { _ = systemClose(descriptor) }
        buffer.deallocate()
        spare.deallocate()
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            if filled == buffer.count { try handOff() }
            let count = min(bytes.count - done, buffer.count - filled)
            (buffer.baseAddress! + filled).copyMemory(from: bytes.baseAddress! + done, byteCount: count)
            filled += count
            done += count
            position += count
        }
    }

    /// Appends `count` bytes (at most `bufferCapacity`) that `body` writes
    /// into the buffer it is given, which holds exactly `count` bytes.
    public func write(count: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        precondition(count >= 0 && count <= Self.bufferCapacity, "one in-place write holds at most a buffer")
        if buffer.count - filled < count { try handOff() }
        try body(UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<(filled + count)]))
        filled += count
        position += count
    }

    public func write(_ text: String) throws {
        var text = text
        try text.withUTF8 { bytes in try write(UnsafeRawBufferPointer(bytes)) }
    }

    /// Pads with zero bytes up to a multiple of `alignment`.
    public func pad(toMultipleOf alignment: Int) throws {
        let remainder = position % alignment
        if remainder != 0 { try writeZeros(alignment - remainder) }
    }

    /// Appends bytes `range` of the file at `source`, copied by the kernel
    /// without passing through this process. Returns false, having written
    /// nothing, where the file systems cannot do that (the caller then
    /// writes the bytes itself).
    public func copy(from source: String, range: Range<Int>) throws -> Bool {
        guard !range.isEmpty else { return true }
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { return false }
        defer { _ = systemClose(input) }
        try drain()
        var offset = Int64(range.lowerBound)
        var done = 0
        while done < range.count {
            let copied = gs_copy_file_range(input, &offset, descriptor, range.count - done)
            if copied < 0 && errno == EINTR { continue }
            if copied <= 0 {
                if done == 0 && copied < 0 && [EXDEV, ENOSYS, EINVAL, EOPNOTSUPP, EBADF].contains(errno) { return false }
                throw FileError.cannotWrite(path: path, reason: copied == 0 ? "\(source) ended early" : FileError.systemReason())
            }
            done += copied
            flushedBytes += copied
            position += copied
        }
        startWriteback(from: flushedBytes - done, count: done)
        return true
    }

    /// Flushes, syncs to disk and closes the file.
    public func close() throws {
        try drain()
        guard descriptor >= 0 else { return }
        if fsync(descriptor) != 0 && errno != EINVAL {
            throw FileError.cannotWrite(path: path, reason: FileError.systemReason())
        }
        let result = systemClose(descriptor)
        descriptor = -1
        if result != 0 { throw FileError.cannotWrite(path: path, reason: FileError.systemReason()) }
    }

    /// Gives the filled buffer to the writer thread once it has finished the
    /// previous one, and continues in the other.
    private func handOff() throws {
        inFlight.wait()
        try reportFailure()
        guard filled > 0 else { return }
        swap(&buffer, &spare)
        let full = UnsafeRawBufferPointer(rebasing: spare[0..<filled])
        let (descriptor, path, offset) = (self.descriptor, self.path, flushedBytes)
        flushedBytes += filled
        filled = 0
        let job = WriteJob(descriptor: descriptor, path: path, bytes: full, offset: offset)
        writer.async(group: inFlight) { [failure] in
            if let problem = job.run() { failure.record(problem) }
        }
    }

    /// Waits for the writer thread and writes what is buffered on this one.
    private func drain() throws {
        inFlight.wait()
        try reportFailure()
        guard filled > 0 else { return }
        let job = WriteJob(descriptor: descriptor, path: path, bytes: UnsafeRawBufferPointer(rebasing: buffer[0..<filled]), offset: flushedBytes)
        flushedBytes += filled
        filled = 0
        if let problem = job.run() { throw FileError.cannotWrite(path: path, reason: problem) }
    }

    private func reportFailure() throws {
        if let problem = failure.reason { throw FileError.cannotWrite(path: path, reason: problem) }
    }

    private func startWriteback(from offset: Int, count: Int) {
        WriteJob.startWriteback(descriptor, offset: offset, count: count)
    }
}

/// One buffer's write, run on the writer thread: the buffer is not touched
/// by the producer until the job is done (`OutputFile.handOff` waits).
private struct WriteJob: @unchecked Sendable {
    let descriptor: Int32
    let path: String
    let bytes: UnsafeRawBufferPointer
    let offset: Int

    /// Writes everything; returns the reason on failure.
    func run() -> String? {
        var done = 0
        while done < bytes.count {
            let written = systemWrite(descriptor, bytes.baseAddress! + done, bytes.count - done)
            if written < 0 {
                if errno == EINTR { continue }
                return FileError.systemReason()
            }
            done += written
        }
        Self.startWriteback(descriptor, offset: offset, count: bytes.count)
        return nil
    }

    /// Asks the kernel to start writing these pages to disk now (without
    /// waiting), so dirty pages do not pile up for `fsync` at the end.
    static func startWriteback(_ descriptor: Int32, offset: Int, count: Int) {
        _ = gs_start_writeback(descriptor, Int64(offset), Int64(count))
    }
}

/// The first failure of the writer thread, read by the producer.
private final class FirstFailure: Sendable {
    private let storage = Locked<String?>(nil)
    func record(_ reason: String) { storage.withLock { $0 = $0 ?? reason } }
    var reason: String? { storage.withLock { $0 } }
}
