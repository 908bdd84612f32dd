import Platform

/// A buffered, append-only file writer that counts what it wrote.
///
/// Writers stream through it tensor by tensor, so peak memory is the buffer
/// plus one tensor being converted, whatever the checkpoint's size. Binary
/// values are written through `BinaryOutput` (`write(_:endianness:)`).
///
/// A file created inside a staged output (`OutputTransaction.stage`) is
/// registered with `PendingOutputs` before it exists, so the signal cleanup
/// removes it if the run dies before committing.
public final class OutputFile: BinaryOutput {
    public let path: String
    private var descriptor: Int32
    private var buffer: [UInt8] = []
    private let bufferCapacity = 1 << 22
    /// Bytes written so far, buffered ones included.
    public private(set) var position: Int = 0

    /// Creates (or truncates) `path` for writing.
    public init(creating path: String) throws(FileError) {
        self.path = path
        PendingOutputs.registerCreatedFile(path)
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FileError.cannotWrite(path: path, reason: FileError.systemReason()) }
        buffer.reserveCapacity(bufferCapacity)
    }

    deinit {
        if descriptor >= 0 { _ = systemClose(descriptor) }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        position += bytes.count
        if buffer.count + bytes.count <= bufferCapacity {
            buffer.append(contentsOf: bytes)
            return
        }
        try flushBuffer()
        if bytes.count >= bufferCapacity {
            try writeFully(bytes)
        } else {
            buffer.append(contentsOf: bytes)
        }
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

    /// Flushes, syncs to disk and closes the file.
    public func close() throws {
        try flushBuffer()
        guard descriptor >= 0 else { return }
        if fsync(descriptor) != 0 && errno != EINVAL {
            throw FileError.cannotWrite(path: path, reason: FileError.systemReason())
        }
        let result = systemClose(descriptor)
        descriptor = -1
        if result != 0 { throw FileError.cannotWrite(path: path, reason: FileError.systemReason()) }
    }

    private func flushBuffer() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { raw in try writeFully(raw) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeFully(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let written = systemWrite(descriptor, bytes.baseAddress! + done, bytes.count - done)
            if written < 0 {
                if errno == EINTR { continue }
                throw FileError.cannotWrite(path: path, reason: FileError.systemReason())
            }
            done += written
        }
    }
}
