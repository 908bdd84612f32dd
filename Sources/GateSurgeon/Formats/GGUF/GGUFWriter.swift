/// Writes GGUF version 3 files, streaming tensor data.
///
/// Metadata keeps the order and exact value types it is given; tensor data
/// is laid out in the given order, each tensor padded to the alignment, as
/// llama.cpp's gguf writer does.
public enum GGUFWriter {
    /// Writes `tensors` and `metadata` to `path`. A `general.alignment` entry
    /// in the metadata sets the alignment.
    /// - Complexity: O(total bytes); memory is bounded by one tensor's producer.
    public static func write(
        metadata: Metadata<GGUFValue>, tensors: [OutputTensor], to path: String,
        progress: ((OutputTensor) -> Void)? = nil
    ) throws {
        let alignment = try GGUFFile.alignment(in: metadata, path: path)
        var names = Set<String>()
        for tensor in tensors {
            guard tensor.dtype.ggmlTypeID != nil else { throw GGUFWriteError.unsupportedDType(path: path, tensor: tensor.name, dtype: tensor.dtype) }
            guard names.insert(tensor.name).inserted else { throw GGUFWriteError.duplicateName(path: path, tensor: tensor.name) }
            guard tensor.rowLength % tensor.dtype.blockSize == 0 else {
                throw GGUFError.rowNotWholeBlocks(path: path, tensor: tensor.name, dtype: tensor.dtype, rowLength: tensor.rowLength)
            }
        }

        let output = try OutputFile(creating: path)
        try output.write(GGUFFile.magic)
        try output.writeUInt32LE(3)
        try output.writeUInt64LE(UInt64(tensors.count))
        try output.writeUInt64LE(UInt64(metadata.count))
        for (key, value) in metadata {
            try writeString(key, to: output)
            try output.writeUInt32LE(value.type.rawValue)
            try writeValue(value, to: output)
        }
        var offset = 0
        for tensor in tensors {
            try writeString(tensor.name, to: output)
            try output.writeUInt32LE(UInt32(tensor.shape.count))
            for dimension in tensor.shape.reversed() { try output.writeUInt64LE(UInt64(dimension)) }
            try output.writeUInt32LE(tensor.dtype.ggmlTypeID!)
            try output.writeUInt64LE(UInt64(offset))
            offset += padded(tensor.byteCount, to: alignment)
        }
        try output.pad(toMultipleOf: alignment)
        let dataStart = output.position
        for tensor in tensors {
            progress?(tensor)
            try output.writeData(of: tensor)
            let written = output.position - dataStart
            try output.writeZeros(padded(written, to: alignment) - written)
        }
        try output.close()
    }

    private static func padded(_ size: Int, to alignment: Int) -> Int {
        (size + alignment - 1) / alignment * alignment
    }

    private static func writeString(_ text: String, to output: OutputFile) throws {
        let bytes = Array(text.utf8)
        try output.writeUInt64LE(UInt64(bytes.count))
        try output.write(bytes)
    }

    private static func writeValue(_ value: GGUFValue, to output: OutputFile) throws {
        switch value {
        case .uint8(let v): try output.write([v])
        case .int8(let v): try output.write([UInt8(bitPattern: v)])
        case .uint16(let v): try output.write([UInt8(v & 0xff), UInt8(v >> 8)])
        case .int16(let v): let u = UInt16(bitPattern: v); try output.write([UInt8(u & 0xff), UInt8(u >> 8)])
        case .uint32(let v): try output.writeUInt32LE(v)
        case .int32(let v): try output.writeUInt32LE(UInt32(bitPattern: v))
        case .float32(let v): try output.writeUInt32LE(v.bitPattern)
        case .bool(let v): try output.write([v ? 1 : 0])
        case .string(let v): try writeString(v, to: output)
        case .uint64(let v): try output.writeUInt64LE(v)
        case .int64(let v): try output.writeUInt64LE(UInt64(bitPattern: v))
        case .float64(let v): try output.writeUInt64LE(v.bitPattern)
        case .array(let elementType, let values):
            try output.writeUInt32LE(elementType.rawValue)
            try output.writeUInt64LE(UInt64(values.count))
            for element in values { try writeValue(element, to: output) }
        }
    }
}

/// Why a set of tensors cannot be written as GGUF.
public enum GGUFWriteError: Error, Sendable, CustomStringConvertible {
    case unsupportedDType(path: String, tensor: String, dtype: DType)
    case duplicateName(path: String, tensor: String)

    public var description: String {
        switch self {
        case .unsupportedDType(let path, let tensor, let dtype):
            "\(path): tensor '\(tensor)' is \(dtype), which GGUF cannot store"
        case .duplicateName(let path, let tensor):
            "\(path): tensor name '\(tensor)' is used twice"
        }
    }
}
