/// A GGUF file (versions 2 and 3), memory-mapped and validated.
///
/// Layout: magic "GGUF", u32 version, u64 tensor count, u64 key-value count,
/// the key-value pairs, the tensor infos (name, dimensions innermost first,
/// ggml type, offset into the data section), padding to `general.alignment`
/// (32 by default), then the data section. Every count, length and offset
/// is bounded by the bytes left in the file before anything is allocated.
public struct GGUFFile: Sendable {
    public static let defaultAlignment = 32
    public static let magic: [UInt8] = Array("GGUF".utf8)

    public let file: MappedFile
    public var path: String { file.path }
    public let version: UInt32
    /// Metadata in file order, with exact value types.
    public let metadata: Metadata<GGUFValue>
    /// Tensors in file order; shapes outermost first.
    public let tensors: [StoredTensor]
    public let alignment: Int
    /// Absolute offset of the data section.
    public let dataStart: Int

    public init(path: String) throws {
        try self.init(file: try MappedFile(path: path))
    }

    public init(file: MappedFile) throws(GGUFError) {
        self.file = file
        let parsed = try file.withBytes { (bytes) throws(GGUFError) in
            var reader = GGUFReader(path: file.path, cursor: ByteCursor(bytes))
            return try reader.readFile(file: file)
        }
        (version, metadata, tensors, alignment, dataStart) = parsed
    }

    /// The value stored under `key`.
    public func value(_ key: String) -> GGUFValue? { metadata[key] }

    /// The data alignment `metadata` sets with `general.alignment` (a u32
    /// power of two), or the default of 32.
    static func alignment(in metadata: Metadata<GGUFValue>, path: String) throws(GGUFError) -> Int {
        guard let value = metadata["general.alignment"] else { return defaultAlignment }
        guard case .uint32(let raw) = value, raw > 0, raw & (raw - 1) == 0 else {
            throw .badAlignment(path: path, value: "\(value)")
        }
        return Int(raw)
    }

    /// `general.architecture`, when present.
    public var architecture: String? { value("general.architecture")?.stringValue }
}

/// The parsing state: a cursor plus the path for error messages.
private struct GGUFReader {
    let path: String
    var cursor: ByteCursor

    mutating func readFile(file: MappedFile) throws(GGUFError)
        -> (UInt32, Metadata<GGUFValue>, [StoredTensor], Int, Int)
    {
        let magic = try read("the magic") { (c) throws(ByteCursor.OutOfBounds) in Array(try c.readBytes(4)) }
        guard magic == GGUFFile.magic else { throw .badMagic(path: path, found: magic) }
        let version = try read("the version") { (c) throws(ByteCursor.OutOfBounds) in try c.readUInt32LE() }
        guard version == 2 || version == 3 else { throw .unsupportedVersion(path: path, version: version) }
        let tensorCountOffset = cursor.offset
        let tensorCount = try read("the tensor count") { (c) throws(ByteCursor.OutOfBounds) in try c.readUInt64LE() }
        let kvCountOffset = cursor.offset
        let kvCount = try read("the metadata count") { (c) throws(ByteCursor.OutOfBounds) in try c.readUInt64LE() }
        // A key-value pair takes at least 12 bytes (key length, type, a
        // one-byte value); a tensor info at least 24.
        let kvLimit = cursor.remaining / 12
        guard kvCount <= UInt64(kvLimit) else {
            throw .countTooLarge(path: path, offset: kvCountOffset, what: "metadata count", count: kvCount, limit: kvLimit)
        }
        let tensorLimit = cursor.remaining / 24
        guard tensorCount <= UInt64(tensorLimit) else {
            throw .countTooLarge(path: path, offset: tensorCountOffset, what: "tensor count", count: tensorCount, limit: tensorLimit)
        }

        var metadata = Metadata<GGUFValue>()
        for _ in 0..<Int(kvCount) {
            let keyOffset = cursor.offset
            let key = try readString("a metadata key")
            guard metadata[key] == nil else { throw .duplicateKey(path: path, offset: keyOffset, key: key) }
            let typeOffset = cursor.offset
            let rawType = try read("the type of key '\(key)'") { (c) throws(ByteCursor.OutOfBounds) in try c.readUInt32LE() }
            guard let type = GGUFValueType(rawValue: rawType) else {
                throw .unknownValueType(path: path, offset: typeOffset, key: key, type: rawType)
            }
            metadata[key] = try readValue(type: type, key: key, depth: 0)
        }

        let alignment = try GGUFFile.alignment(in: metadata, path: path)

        // (name, dtype, shape, relative offset, byte count)
        var infos: [(String, DType, [Int], UInt64, Int)] = []
        infos.reserveCapacity(Int(tensorCount))
        var names = Set<String>()
        for _ in 0..<Int(tensorCount) {
            let nameOffset = cursor.offset
            let name = try readString("a tensor name")
            guard names.insert(name).inserted else { throw .duplicateTensor(path: path, offset: nameOffset, tensor: name) }
            let dimsOffset = cursor.offset
            let dimensionCount = try read("the dimension count of '\(name)'") { (c) throws(ByteCursor.OutOfBounds) in try c.readUInt32LE() }
            guard dimensionCount <= 4 else {
                throw .tooManyDimensions(path: path, offset: dimsOffset, tensor: name, count: dimensionCount)
            }
            var ne: [UInt64] = []
            for _ in 0..<dimensionCount {
                ne.append(try read("the dimensions of '\(name)'") { (c) throws(ByteCursor.OutOfBounds) in try c.readUInt64LE() })
            }
            var elements: UInt64 = 1
            for size in ne {
                let (product, overflow) = elements.multipliedReportingOverflow(by: size)
                guard !overflow, product <= UInt64(Int.max) else {
                    throw .badDimension(path: path, offset: dimsOffset + 4, tensor: name, shape: ne)
                }
                elements = product
            }
            let typeOffset = cursor.offset
            let typeID = try read("the type of '\(name)'") { (c) throws(ByteCursor.OutOfBounds) in try c.readUInt32LE() }
            guard let dtype = DType(ggmlTypeID: typeID) else {
                if let removed = DType.removedGGMLTypeName(typeID) {
                    throw .removedTensorType(path: path, offset: typeOffset, tensor: name, type: typeID, name: removed)
                }
                throw .unknownTensorType(path: path, offset: typeOffset, tensor: name, type: typeID)
            }
            let offset = try read("the data offset of '\(name)'") { (c) throws(ByteCursor.OutOfBounds) in try c.readUInt64LE() }
            let rowLength = ne.first.map { Int($0) } ?? 1
            guard rowLength % dtype.blockSize == 0 else {
                throw .rowNotWholeBlocks(path: path, tensor: name, dtype: dtype, rowLength: rowLength)
            }
            guard let byteCount = dtype.byteCount(elements: Int(elements)) else {
                throw .badDimension(path: path, offset: dimsOffset + 4, tensor: name, shape: ne)
            }
            infos.append((name, dtype, ne.reversed().map { Int($0) }, offset, byteCount))
        }

        let headerEnd = cursor.offset
        let dataStart = (headerEnd + alignment - 1) / alignment * alignment
        let fileSize = cursor.bytes.count
        var tensors: [StoredTensor] = []
        tensors.reserveCapacity(infos.count)
        for (name, dtype, shape, offset, byteCount) in infos {
            guard offset % UInt64(alignment) == 0 else {
                throw .misalignedTensor(path: path, tensor: name, offset: offset, alignment: alignment)
            }
            guard offset <= UInt64(fileSize), dataStart + Int(offset) <= fileSize - byteCount else {
                let start = offset <= UInt64(Int.max / 2) ? dataStart + Int(offset) : Int.max / 2
                throw .tensorPastEnd(path: path, tensor: name, start: start, end: start + byteCount, fileSize: fileSize)
            }
            let start = dataStart + Int(offset)
            tensors.append(StoredTensor(name: name, dtype: dtype, shape: shape, file: file, byteRange: start..<(start + byteCount)))
        }
        let byStart = tensors.sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }
        for (previous, next) in zip(byStart, byStart.dropFirst())
        where next.byteRange.lowerBound < previous.byteRange.upperBound {
            throw .overlappingTensors(path: path, tensor: next.name, other: previous.name)
        }
        return (version, metadata, tensors, alignment, dataStart)
    }

    /// Runs a cursor read, turning running out of bytes into a GGUF error.
    private mutating func read<T>(
        _ what: String, _ body: (inout ByteCursor) throws(ByteCursor.OutOfBounds) -> T
    ) throws(GGUFError) -> T {
        do {
            return try body(&cursor)
        } catch {
            throw .truncated(path: path, offset: cursor.bytes.count, reading: what)
        }
    }

    private mutating func readString(_ what: String) throws(GGUFError) -> String {
        let lengthOffset = cursor.offset
        let length = try read("the length of \(what)") { (c) throws(ByteCursor.OutOfBounds) in try c.readUInt64LE() }
        guard length <= UInt64(cursor.remaining) else {
            throw .countTooLarge(path: path, offset: lengthOffset, what: "length of \(what)", count: length, limit: cursor.remaining)
        }
        let start = cursor.offset
        let bytes = try read(what) { (c) throws(ByteCursor.OutOfBounds) in try c.readBytes(Int(length)) }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .invalidString(path: path, offset: start, reading: what)
        }
        return text
    }

    private mutating func readValue(type: GGUFValueType, key: String, depth: Int) throws(GGUFError) -> GGUFValue {
        let what = "the value of '\(key)'"
        switch type {
        case .uint8: return .uint8(try read(what) { (c) throws(ByteCursor.OutOfBounds) in try c.readUInt8() })
        case .int8: return .int8(try read(what) { (c) throws(ByteCursor.OutOfBounds) in try c.readInt8() })
        case .uint16: return .uint16(try read(what) { (c) throws(ByteCursor.OutOfBounds) in try c.readUInt16LE() })
        case .int16: return .int16(try read(what) { (c) throws(ByteCursor.OutOfBounds) in try c.readInt16LE() })
        case .uint32: return .uint32(try read(what) { (c) throws(ByteCursor.OutOfBounds) in try c.readUInt32LE() })
        case .int32: return .int32(try read(what) { (c) throws(ByteCursor.OutOfBounds) in try c.readInt32LE() })
        case .float32: return .float32(try read(what) { (c) throws(ByteCursor.OutOfBounds) in try c.readFloat32LE() })
        case .uint64: return .uint64(try read(what) { (c) throws(ByteCursor.OutOfBounds) in try c.readUInt64LE() })
        case .int64: return .int64(try read(what) { (c) throws(ByteCursor.OutOfBounds) in try c.readInt64LE() })
        case .float64: return .float64(try read(what) { (c) throws(ByteCursor.OutOfBounds) in try c.readFloat64LE() })
        case .bool: return .bool(try read(what) { (c) throws(ByteCursor.OutOfBounds) in try c.readUInt8() } != 0)
        case .string: return .string(try readString(what))
        case .array:
            let typeOffset = cursor.offset
            let rawType = try read("the element type of '\(key)'") { (c) throws(ByteCursor.OutOfBounds) in try c.readUInt32LE() }
            guard let elementType = GGUFValueType(rawValue: rawType) else {
                throw .unknownValueType(path: path, offset: typeOffset, key: key, type: rawType)
            }
            guard depth < 8 else {
                throw .countTooLarge(path: path, offset: typeOffset, what: "array nesting depth of '\(key)'", count: UInt64(depth + 1), limit: 8)
            }
            let countOffset = cursor.offset
            let count = try read("the length of '\(key)'") { (c) throws(ByteCursor.OutOfBounds) in try c.readUInt64LE() }
            let minimumSize = elementType.fixedSize ?? (elementType == .string ? 8 : 12)
            let limit = cursor.remaining / minimumSize
            guard count <= UInt64(limit) else {
                throw .countTooLarge(path: path, offset: countOffset, what: "array length of '\(key)'", count: count, limit: limit)
            }
            var values: [GGUFValue] = []
            values.reserveCapacity(Int(count))
            for _ in 0..<Int(count) {
                values.append(try readValue(type: elementType, key: key, depth: depth + 1))
            }
            return .array(elementType: elementType, values: values)
        }
    }
}
