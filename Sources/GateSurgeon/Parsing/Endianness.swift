/// The byte order of a multi-byte value in a file.
///
/// Every read and write of a multi-byte value names its byte order at the
/// call site: `read(UInt64.self, endianness: .little)`.
public enum Endianness: Sendable, Hashable {
    /// Least significant byte first (GGUF, safetensors, protobuf fixed fields).
    case little
    /// Most significant byte first.
    case big
}
