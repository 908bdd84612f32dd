/// Why a GGUF file was refused; each case carries the file, the key or
/// tensor when there is one, and the byte offset where reading stopped.
public enum GGUFError: Error, Sendable, CustomStringConvertible {
    case badMagic(path: String, found: [UInt8])
    case unsupportedVersion(path: String, version: UInt32)
    /// The file ends at byte `end`, inside the value being read at byte `offset`.
    case truncated(path: String, end: Int, reading: String, offset: Int)
    case countTooLarge(path: String, offset: Int, what: String, count: UInt64, limit: Int)
    case invalidString(path: String, offset: Int, reading: String)
    /// A value read at `offset` breaks a rule the parser enforces.
    case invalidValue(path: String, offset: Int, reading: String, problem: String)
    case unknownValueType(path: String, offset: Int, key: String, type: UInt32)
    case duplicateKey(path: String, offset: Int, key: String)
    case badAlignment(path: String, value: String)
    /// A tensor name of `length` bytes; ggml keeps names in 64 bytes with the terminator.
    case nameTooLong(path: String, offset: Int, tensor: String, length: Int)
    /// A tensor name with a NUL byte, which ggml's C strings would cut short.
    case nameContainsNUL(path: String, offset: Int, tensor: String)
    case tooManyDimensions(path: String, offset: Int, tensor: String, count: UInt32)
    /// The product of the non-zero dimensions does not fit a signed 64-bit count.
    case badDimension(path: String, offset: Int, tensor: String, shape: [UInt64])
    /// One dimension is above 2^63 - 1 (negative as ggml's int64_t).
    case dimensionTooLarge(path: String, offset: Int, tensor: String, shape: [UInt64], dimension: UInt64)
    case unknownTensorType(path: String, offset: Int, tensor: String, type: UInt32)
    case removedTensorType(path: String, offset: Int, tensor: String, type: UInt32, name: String)
    case rowNotWholeBlocks(path: String, tensor: String, dtype: DType, rowLength: Int)
    case duplicateTensor(path: String, offset: Int, tensor: String)
    case misalignedTensor(path: String, tensor: String, offset: UInt64, alignment: Int)
    /// The data, `byteCount` bytes at `offset` past the data section start
    /// `dataStart`, does not fit in the file.
    case tensorPastEnd(path: String, tensor: String, offset: UInt64, dataStart: Int, byteCount: Int, fileSize: Int)
    case overlappingTensors(path: String, tensor: String, other: String)

    /// The GGUF error for a failed read of `reading` (what was being read).
    init(_ error: ParsingError, reading: String) {
        switch error.status {
        case .insufficientData(_, let end):
            self = .truncated(path: error.source, end: end, reading: reading, offset: error.location)
        case .invalidUTF8:
            self = .invalidString(path: error.source, offset: error.location, reading: reading)
        case .overflow:
            self = .invalidValue(path: error.source, offset: error.location, reading: reading, problem: "the value overflows")
        case .invalidValue(let problem):
            self = .invalidValue(path: error.source, offset: error.location, reading: reading, problem: problem)
        }
    }

    public var description: String {
        switch self {
        case .badMagic(let path, let found):
            let text = found.map { ($0 >= 0x20 && $0 < 0x7f) ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16) }.joined()
            return "\(path): not a GGUF file: magic \"\(text)\" at byte 0, expected \"GGUF\""
        case .unsupportedVersion(let path, let version):
            return "\(path): GGUF version \(version) at byte 4 is not supported (only versions 2 and 3)"
        case .truncated(let path, let end, let reading, let offset):
            return "\(path): truncated: the file ends at byte \(end) while reading \(reading) at byte \(offset)"
        case .countTooLarge(let path, let offset, let what, let count, let limit):
            return "\(path): \(what) \(count) at byte \(offset) is impossible for this file (at most \(limit))"
        case .invalidString(let path, let offset, let reading):
            return "\(path): \(reading) at byte \(offset) is not valid UTF-8"
        case .invalidValue(let path, let offset, let reading, let problem):
            return "\(path): \(reading) at byte \(offset): \(problem)"
        case .unknownValueType(let path, let offset, let key, let type):
            return "\(path): key '\(key)': unknown value type \(type) at byte \(offset)"
        case .duplicateKey(let path, let offset, let key):
            return "\(path): key '\(key)' at byte \(offset) appears twice"
        case .badAlignment(let path, let value):
            return "\(path): general.alignment \(value) must be a power of two that fits 32 bits"
        case .nameTooLong(let path, let offset, let tensor, let length):
            return "\(path): tensor name '\(tensor)' at byte \(offset) is \(length) bytes; ggml allows at most \(GGUFFile.maximumNameLength)"
        case .nameContainsNUL(let path, let offset, let tensor):
            return "\(path): tensor name '\(tensor)' at byte \(offset) contains a NUL byte"
        case .tooManyDimensions(let path, let offset, let tensor, let count):
            return "\(path): tensor '\(tensor)': \(count) dimensions at byte \(offset), at most 4 allowed"
        case .badDimension(let path, let offset, let tensor, let shape):
            return "\(path): tensor '\(tensor)': dimensions \(shape) at byte \(offset) overflow a 64-bit element count (product of the non-zero dimensions)"
        case .dimensionTooLarge(let path, let offset, let tensor, let shape, let dimension):
            return "\(path): tensor '\(tensor)': dimensions \(shape) at byte \(offset): \(dimension) overflows a signed 64-bit dimension"
        case .unknownTensorType(let path, let offset, let tensor, let type):
            return "\(path): tensor '\(tensor)': unknown ggml type id \(type) at byte \(offset)"
        case .removedTensorType(let path, let offset, let tensor, let type, let name):
            return "\(path): tensor '\(tensor)': ggml type id \(type) (\(name)) at byte \(offset) was removed from ggml and is not supported"
        case .rowNotWholeBlocks(let path, let tensor, let dtype, let rowLength):
            return "\(path): tensor '\(tensor)': row of \(rowLength) elements is not a whole number of \(dtype) blocks of \(dtype.blockSize)"
        case .duplicateTensor(let path, let offset, let tensor):
            return "\(path): tensor '\(tensor)' at byte \(offset) is named twice"
        case .misalignedTensor(let path, let tensor, let offset, let alignment):
            return "\(path): tensor '\(tensor)': data offset \(offset) is not a multiple of the alignment \(alignment)"
        case .tensorPastEnd(let path, let tensor, let offset, let dataStart, let byteCount, let fileSize):
            // Printed in UInt64 arithmetic: the offset may be anything up to 2^64 - 1.
            let (start, startOverflows) = UInt64(dataStart).addingReportingOverflow(offset)
            let (end, endOverflows) = start.addingReportingOverflow(UInt64(byteCount))
            if startOverflows || endOverflows {
                return "\(path): tensor '\(tensor)': data offset \(offset) (after the data section start \(dataStart)) runs past the end of the \(fileSize)-byte file"
            }
            return "\(path): tensor '\(tensor)': its data (bytes \(start) to \(end)) runs past the end of the file: truncated (expected \(end) bytes, found \(fileSize))"
        case .overlappingTensors(let path, let tensor, let other):
            return "\(path): tensor '\(tensor)' overlaps the data of tensor '\(other)'"
        }
    }
}
