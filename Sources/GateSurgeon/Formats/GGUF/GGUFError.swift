/// Why a GGUF file was refused; each case carries the file, the key or
/// tensor when there is one, and the byte offset where reading stopped.
public enum GGUFError: Error, Sendable, CustomStringConvertible {
    case badMagic(path: String, found: [UInt8])
    case unsupportedVersion(path: String, version: UInt32)
    case truncated(path: String, offset: Int, reading: String)
    case countTooLarge(path: String, offset: Int, what: String, count: UInt64, limit: Int)
    case invalidString(path: String, offset: Int, reading: String)
    case unknownValueType(path: String, offset: Int, key: String, type: UInt32)
    case duplicateKey(path: String, offset: Int, key: String)
    case badAlignment(path: String, value: String)
    case tooManyDimensions(path: String, offset: Int, tensor: String, count: UInt32)
    case badDimension(path: String, offset: Int, tensor: String, shape: [UInt64])
    case unknownTensorType(path: String, offset: Int, tensor: String, type: UInt32)
    case removedTensorType(path: String, offset: Int, tensor: String, type: UInt32, name: String)
    case rowNotWholeBlocks(path: String, tensor: String, dtype: DType, rowLength: Int)
    case duplicateTensor(path: String, offset: Int, tensor: String)
    case misalignedTensor(path: String, tensor: String, offset: UInt64, alignment: Int)
    case tensorPastEnd(path: String, tensor: String, start: Int, end: Int, fileSize: Int)
    case overlappingTensors(path: String, tensor: String, other: String)

    public var description: String {
        switch self {
        case .badMagic(let path, let found):
            let text = found.map { ($0 >= 0x20 && $0 < 0x7f) ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16) }.joined()
            return "\(path): not a GGUF file: magic \"\(text)\" at byte 0, expected \"GGUF\""
        case .unsupportedVersion(let path, let version):
            return "\(path): GGUF version \(version) at byte 4 is not supported (only versions 2 and 3)"
        case .truncated(let path, let offset, let reading):
            return "\(path): file ends at byte \(offset) while reading \(reading)"
        case .countTooLarge(let path, let offset, let what, let count, let limit):
            return "\(path): \(what) \(count) at byte \(offset) is impossible for this file (at most \(limit))"
        case .invalidString(let path, let offset, let reading):
            return "\(path): \(reading) at byte \(offset) is not valid UTF-8"
        case .unknownValueType(let path, let offset, let key, let type):
            return "\(path): key '\(key)': unknown value type \(type) at byte \(offset)"
        case .duplicateKey(let path, let offset, let key):
            return "\(path): key '\(key)' at byte \(offset) appears twice"
        case .badAlignment(let path, let value):
            return "\(path): general.alignment \(value) must be a power of two that fits 32 bits"
        case .tooManyDimensions(let path, let offset, let tensor, let count):
            return "\(path): tensor '\(tensor)': \(count) dimensions at byte \(offset), at most 4 allowed"
        case .badDimension(let path, let offset, let tensor, let shape):
            return "\(path): tensor '\(tensor)': dimensions \(shape) at byte \(offset) overflow a 64-bit element count"
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
        case .tensorPastEnd(let path, let tensor, let start, let end, let fileSize):
            return "\(path): tensor '\(tensor)': data bytes \(start)..<\(end) run past the end of the \(fileSize)-byte file"
        case .overlappingTensors(let path, let tensor, let other):
            return "\(path): tensor '\(tensor)' overlaps the data of tensor '\(other)'"
        }
    }
}
