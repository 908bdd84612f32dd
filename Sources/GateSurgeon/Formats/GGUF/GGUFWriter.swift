/// Writes GGUF version 3 files, streaming tensor data.
///
/// Metadata keeps the order and exact value types it is given; tensor data
/// is laid out in the given order, each tensor padded to the alignment, as
/// llama.cpp's gguf writer does. Arrays read from a GGUF file are copied as
/// their stored bytes.
public enum GGUFWriter {
    /// Writes `tensors` and `metadata` to `path`. A `general.alignment` entry
    /// in the metadata sets the alignment.
    /// - Complexity: O(total bytes); memory is bounded by one tensor's producer.
    public static func write(
        metadata: Metadata<GGUFValue>, tensors: [OutputTensor], to path: String,
        progress: ((OutputTensor) -> Void)? = nil
    ) throws {
        let alignment = try GGUFFile.alignment(in: metadata, path: path)
        try validate(tensors, metadata: metadata, path: path)

        let output = try OutputFile(creating: path)
        try writeHeader(metadata: metadata, tensors: tensors, alignment: alignment, path: path, to: output)
        try output.pad(toMultipleOf: alignment)
        let dataStart = output.position
        for tensor in tensors {
            progress?(tensor)
            try output.writeData(of: tensor)
            let written = output.position - dataStart
            try output.writeZeros(try padded(written, to: alignment, path: path, tensor: tensor.name) - written)
        }
        try output.close()
    }

    /// The size in bytes of the file `write` makes of `metadata` and
    /// `tensors`, computed without producing any tensor.
    public static func fileSize(metadata: Metadata<GGUFValue>, tensors: [OutputTensor], path: String) throws -> Int {
        let alignment = try GGUFFile.alignment(in: metadata, path: path)
        try validate(tensors, metadata: metadata, path: path)
        let counter = ByteCounter()
        try writeHeader(metadata: metadata, tensors: tensors, alignment: alignment, path: path, to: counter)
        var size = try padded(counter.count, to: alignment, path: path, tensor: tensors.first?.name ?? "")
        for tensor in tensors {
            size = try padded(size +? tensor.byteCount, to: alignment, path: path, tensor: tensor.name)
        }
        return size
    }

    /// The header: magic, version 3, counts, the key-value pairs and the
    /// tensor infos, each tensor's data offset padded to `alignment`.
    private static func writeHeader(
        metadata: Metadata<GGUFValue>, tensors: [OutputTensor], alignment: Int, path: String, to output: some BinaryOutput
    ) throws {
        try output.write(GGUFFile.magic)
        try output.write(UInt32(3), endianness: .little)
        try output.write(UInt64(tensors.count), endianness: .little)
        try output.write(UInt64(metadata.count), endianness: .little)
        for (key, value) in metadata {
            try output.writeLengthPrefixedUTF8(key, lengthType: UInt64.self, endianness: .little)
            try output.write(value.type.rawValue, endianness: .little)
            try writeValue(value, to: output)
        }
        var offset = 0
        for tensor in tensors {
            try output.writeLengthPrefixedUTF8(tensor.name, lengthType: UInt64.self, endianness: .little)
            try output.write(UInt32(tensor.shape.count), endianness: .little)
            for dimension in tensor.shape.reversed() { try output.write(UInt64(dimension), endianness: .little) }
            try output.write(tensor.dtype.ggmlTypeID!, endianness: .little)
            try output.write(UInt64(offset), endianness: .little)
            offset = try padded(offset +? tensor.byteCount, to: alignment, path: path, tensor: tensor.name)
        }
    }

    /// Checks what a GGUF file cannot hold, before anything is created.
    static func validate(_ tensors: [OutputTensor], metadata: Metadata<GGUFValue>, path: String) throws {
        var names = Set<String>()
        for tensor in tensors {
            guard tensor.dtype.ggmlTypeID != nil else { throw GGUFWriteError.unsupportedDType(path: path, tensor: tensor.name, dtype: tensor.dtype) }
            let length = tensor.name.utf8.count
            guard length <= GGUFFile.maximumNameLength else {
                throw GGUFWriteError.nameTooLong(path: path, tensor: tensor.name, length: length)
            }
            guard !tensor.name.utf8.contains(0) else { throw GGUFWriteError.nameContainsNUL(path: path, tensor: tensor.name) }
            guard names.insert(tensor.name).inserted else { throw GGUFWriteError.duplicateName(path: path, tensor: tensor.name) }
            guard tensor.shape.count <= 4, tensor.shape.allSatisfy({ $0 >= 0 }) else {
                throw GGUFWriteError.invalidShape(path: path, tensor: tensor.name, shape: tensor.shape)
            }
            guard tensor.rowLength % tensor.dtype.blockSize == 0 else {
                throw GGUFError.rowNotWholeBlocks(path: path, tensor: tensor.name, dtype: tensor.dtype, rowLength: tensor.rowLength)
            }
        }
        for (key, value) in metadata { try validate(value, key: key, path: path) }
    }

    /// Every element of an array has the array's element type.
    private static func validate(_ value: GGUFValue, key: String, path: String) throws {
        guard case .array(let elementType, let values) = value else { return }
        if let stored = values.storedElementType, stored == elementType { return }
        for element in values {
            guard element.type == elementType else {
                throw GGUFWriteError.mixedArray(path: path, key: key, elementType: elementType, found: element.type)
            }
            try validate(element, key: key, path: path)
        }
    }

    private static func padded(_ size: Int?, to alignment: Int, path: String, tensor: String) throws -> Int {
        guard let padded = size?.roundedUp(toMultipleOf: alignment) else {
            throw GGUFWriteError.tooLarge(path: path, tensor: tensor)
        }
        return padded
    }

    private static func writeValue(_ value: GGUFValue, to output: some BinaryOutput) throws {
        switch value {
        case .uint8(let v): try output.write(v, endianness: .little)
        case .int8(let v): try output.write(v, endianness: .little)
        case .uint16(let v): try output.write(v, endianness: .little)
        case .int16(let v): try output.write(v, endianness: .little)
        case .uint32(let v): try output.write(v, endianness: .little)
        case .int32(let v): try output.write(v, endianness: .little)
        case .float32(let v): try output.write(v, endianness: .little)
        case .bool(let v): try output.write(UInt8(v ? 1 : 0), endianness: .little)
        case .string(let v): try output.writeLengthPrefixedUTF8(v, lengthType: UInt64.self, endianness: .little)
        case .uint64(let v): try output.write(v, endianness: .little)
        case .int64(let v): try output.write(v, endianness: .little)
        case .float64(let v): try output.write(v, endianness: .little)
        case .array(let elementType, let values):
            try output.write(elementType.rawValue, endianness: .little)
            try output.write(UInt64(values.count), endianness: .little)
            if values.storedElementType == elementType, try values.withStoredBytes({ try output.write($0) }) != nil { return }
            for element in values { try writeValue(element, to: output) }
        }
    }
}

/// A `BinaryOutput` that only counts bytes: the size a header would take.
private final class ByteCounter: BinaryOutput {
    private(set) var count = 0
    func write(_ bytes: UnsafeRawBufferPointer) throws { count += bytes.count }
}

/// Why a set of tensors cannot be written as GGUF.
public enum GGUFWriteError: Error, Sendable, CustomStringConvertible {
    case unsupportedDType(path: String, tensor: String, dtype: DType)
    case duplicateName(path: String, tensor: String)
    /// ggml keeps tensor names in GGML_MAX_NAME (64) bytes, terminator included.
    case nameTooLong(path: String, tensor: String, length: Int)
    case nameContainsNUL(path: String, tensor: String)
    case invalidShape(path: String, tensor: String, shape: [Int])
    /// An array element whose type is not the array's element type.
    case mixedArray(path: String, key: String, elementType: GGUFValueType, found: GGUFValueType)
    case tooLarge(path: String, tensor: String)
    /// Split output of a file whose `general.alignment` is not the 32 bytes
    /// llama-gguf-split pads parts to.
    case splitAlignment(path: String, alignment: Int)
    /// More parts than a split GGUF's u16 `split.count` holds.
    case tooManyParts(path: String, count: Int)

    public var description: String {
        switch self {
        case .unsupportedDType(let path, let tensor, let dtype):
            "\(path): tensor '\(tensor)' is \(dtype), which GGUF cannot store"
        case .duplicateName(let path, let tensor):
            "\(path): tensor name '\(tensor)' is used twice"
        case .nameTooLong(let path, let tensor, let length):
            "\(path): tensor name '\(tensor)' is \(length) bytes; GGUF (ggml) allows at most \(GGUFFile.maximumNameLength)"
        case .nameContainsNUL(let path, let tensor):
            "\(path): tensor name '\(tensor)' contains a NUL byte, which GGUF readers cut the name at"
        case .invalidShape(let path, let tensor, let shape):
            "\(path): tensor '\(tensor)': shape \(shape) is not 0 to 4 non-negative dimensions"
        case .mixedArray(let path, let key, let elementType, let found):
            "\(path): metadata '\(key)': an array of \(elementType.name) holds a \(found.name) value"
        case .tooLarge(let path, let tensor):
            "\(path): tensor '\(tensor)': data offsets overflow"
        case .splitAlignment(let path, let alignment):
            "\(path): the model's general.alignment is \(alignment); split GGUF parts are padded to \(GGUFSplit.alignment) bytes (llama-gguf-split's layout), so it cannot be split; write one file"
        case .tooManyParts(let path, let count):
            "\(path): the limit cuts the model into \(count) parts; a split GGUF holds at most \(GGUFSplit.maximumPartCount); raise the limit"
        }
    }
}
