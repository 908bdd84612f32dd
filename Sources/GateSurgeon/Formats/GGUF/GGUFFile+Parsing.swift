// The steps a GGUF file is read in, each an `init(parsing:)` on the
// ParserSpan layer: header, key-value pairs (values, arrays as views), and
// tensor infos. Every error names the file and the absolute byte position.

extension ParserSpan {
    /// Runs a read, turning a ParsingError into the GGUF error for `what`.
    mutating func gguf<T>(
        _ what: @autoclosure () -> String, _ read: (inout ParserSpan) throws(ParsingError) -> T
    ) throws(GGUFError) -> T {
        do {
            return try read(&self)
        } catch {
            throw GGUFError(error, reading: what())
        }
    }

    /// Reads a GGUF string: a u64 byte count, checked against the bytes
    /// left, then that many bytes of UTF-8.
    mutating func readGGUFString(_ what: @autoclosure () -> String) throws(GGUFError) -> String {
        let length = try readGGUFStringLength(what())
        return try gguf(what()) { (input) throws(ParsingError) in try input.readUTF8(byteCount: length) }
    }

    /// Reads a GGUF string's length and checks that many bytes are left.
    mutating func readGGUFStringLength(_ what: @autoclosure () -> String) throws(GGUFError) -> Int {
        let lengthOffset = startPosition
        let length = try gguf("the length of \(what())") { (input) throws(ParsingError) in
            try input.read(UInt64.self, endianness: .little)
        }
        guard length <= UInt64(count) else {
            throw .countTooLarge(path: source, offset: lengthOffset, what: "length of \(what())", count: length, limit: count)
        }
        return Int(length)
    }
}

/// The fixed start of a GGUF file: magic, version and the two counts, which
/// are checked against the bytes that follow (a key-value pair takes at
/// least 12 bytes, a tensor info at least 24).
struct GGUFHeader: ExpressibleByParsing {
    var version: UInt32
    var tensorCount: Int
    var metadataCount: Int

    init(parsing input: inout ParserSpan) throws(GGUFError) {
        let path = input.source
        let magic = try input.gguf("the magic") { (input) throws(ParsingError) in try input.readBytes(byteCount: 4) }
        guard magic == GGUFFile.magic else { throw .badMagic(path: path, found: magic) }
        version = try input.gguf("the version") { (input) throws(ParsingError) in try input.read(UInt32.self, endianness: .little) }
        guard version == 2 || version == 3 else { throw .unsupportedVersion(path: path, version: version) }
        let tensorCountOffset = input.startPosition
        let tensorCount = try input.gguf("the tensor count") { (input) throws(ParsingError) in try input.read(UInt64.self, endianness: .little) }
        let metadataCountOffset = input.startPosition
        let metadataCount = try input.gguf("the metadata count") { (input) throws(ParsingError) in try input.read(UInt64.self, endianness: .little) }
        let metadataLimit = input.count / 12
        guard metadataCount <= UInt64(metadataLimit) else {
            throw .countTooLarge(path: path, offset: metadataCountOffset, what: "metadata count", count: metadataCount, limit: metadataLimit)
        }
        let tensorLimit = input.count / 24
        guard tensorCount <= UInt64(tensorLimit) else {
            throw .countTooLarge(path: path, offset: tensorCountOffset, what: "tensor count", count: tensorCount, limit: tensorLimit)
        }
        self.tensorCount = Int(tensorCount)
        self.metadataCount = Int(metadataCount)
    }
}

extension Metadata where Value == GGUFValue {
    /// Reads `count` key-value pairs; a key may appear once.
    init(parsingGGUF input: inout ParserSpan, count: Int, file: MappedFile) throws(GGUFError) {
        self.init()
        for _ in 0..<count {
            let keyOffset = input.startPosition
            let key = try input.readGGUFString("a metadata key")
            guard self[key] == nil else { throw .duplicateKey(path: input.source, offset: keyOffset, key: key) }
            let typeOffset = input.startPosition
            let rawType = try input.gguf("the type of key '\(key)'") { (input) throws(ParsingError) in
                try input.read(UInt32.self, endianness: .little)
            }
            guard let type = GGUFValueType(rawValue: rawType) else {
                throw .unknownValueType(path: input.source, offset: typeOffset, key: key, type: rawType)
            }
            self[key] = try GGUFValue(parsing: &input, type: type, key: key, file: file)
        }
    }
}

extension GGUFValue {
    /// Arrays nest at most this deep.
    static let maximumNesting = 8

    /// Reads one value of `type`, the value of (or inside) metadata `key`.
    /// Arrays of fixed-size elements and of strings become views of `file`.
    init(parsing input: inout ParserSpan, type: GGUFValueType, key: String, file: MappedFile, depth: Int = 0) throws(GGUFError) {
        let what = "the value of '\(key)'"
        switch type {
        case .uint8: self = .uint8(try input.gguf(what) { (input) throws(ParsingError) in try input.read(UInt8.self) })
        case .int8: self = .int8(try input.gguf(what) { (input) throws(ParsingError) in try input.read(Int8.self) })
        case .uint16: self = .uint16(try input.gguf(what) { (input) throws(ParsingError) in try input.read(UInt16.self, endianness: .little) })
        case .int16: self = .int16(try input.gguf(what) { (input) throws(ParsingError) in try input.read(Int16.self, endianness: .little) })
        case .uint32: self = .uint32(try input.gguf(what) { (input) throws(ParsingError) in try input.read(UInt32.self, endianness: .little) })
        case .int32: self = .int32(try input.gguf(what) { (input) throws(ParsingError) in try input.read(Int32.self, endianness: .little) })
        case .float32: self = .float32(try input.gguf(what) { (input) throws(ParsingError) in try input.read(Float.self, endianness: .little) })
        case .uint64: self = .uint64(try input.gguf(what) { (input) throws(ParsingError) in try input.read(UInt64.self, endianness: .little) })
        case .int64: self = .int64(try input.gguf(what) { (input) throws(ParsingError) in try input.read(Int64.self, endianness: .little) })
        case .float64: self = .float64(try input.gguf(what) { (input) throws(ParsingError) in try input.read(Double.self, endianness: .little) })
        case .bool: self = .bool(try input.gguf(what) { (input) throws(ParsingError) in try input.read(UInt8.self) } != 0)
        case .string: self = .string(try input.readGGUFString(what))
        case .array: self = try GGUFValue(parsingArray: &input, key: key, file: file, depth: depth)
        }
    }

    /// Reads an array: element type, count, elements. The count is bounded by
    /// the bytes left for the smallest element of the type.
    private init(parsingArray input: inout ParserSpan, key: String, file: MappedFile, depth: Int) throws(GGUFError) {
        let path = input.source
        let typeOffset = input.startPosition
        let rawType = try input.gguf("the element type of '\(key)'") { (input) throws(ParsingError) in
            try input.read(UInt32.self, endianness: .little)
        }
        guard let elementType = GGUFValueType(rawValue: rawType) else {
            throw .unknownValueType(path: path, offset: typeOffset, key: key, type: rawType)
        }
        guard depth < GGUFValue.maximumNesting else {
            throw .countTooLarge(path: path, offset: typeOffset, what: "array nesting depth of '\(key)'",
                                 count: UInt64(depth + 1), limit: GGUFValue.maximumNesting)
        }
        let countOffset = input.startPosition
        let rawCount = try input.gguf("the length of '\(key)'") { (input) throws(ParsingError) in
            try input.read(UInt64.self, endianness: .little)
        }
        let minimumSize = elementType.fixedSize ?? (elementType == .string ? 8 : 12)
        let limit = input.count / minimumSize
        guard rawCount <= UInt64(limit) else {
            throw .countTooLarge(path: path, offset: countOffset, what: "array length of '\(key)'", count: rawCount, limit: limit)
        }
        let count = Int(rawCount)
        let what = "the value of '\(key)'"
        switch elementType {
        case .string:
            let start = input.startPosition
            var checkpoints: [Int] = []
            checkpoints.reserveCapacity(count / MappedGGUFArray.checkpointStride + 1)
            for index in 0..<count {
                if index % MappedGGUFArray.checkpointStride == 0 { checkpoints.append(input.startPosition) }
                let length = try input.readGGUFStringLength(what)
                try input.gguf(what) { (input) throws(ParsingError) in try input.skipUTF8(byteCount: length) }
            }
            let view = MappedGGUFArray(file: file, elementType: .string, range: start..<input.startPosition,
                                       count: count, checkpoints: checkpoints)
            self = .array(elementType: .string, values: GGUFArray(mapped: view))
        case .array:
            var values: [GGUFValue] = []
            values.reserveCapacity(Swift.min(count, 1 << 12))
            for _ in 0..<count {
                values.append(try GGUFValue(parsing: &input, type: .array, key: key, file: file, depth: depth + 1))
            }
            self = .array(elementType: .array, values: GGUFArray(values))
        default:
            let size = elementType.fixedSize!
            let range = try input.gguf(what) { (input) throws(ParsingError) in
                try input.sliced(objectStride: size, objectCount: count).range
            }
            let view = MappedGGUFArray(file: file, elementType: elementType, range: range, count: count)
            self = .array(elementType: elementType, values: GGUFArray(mapped: view))
        }
    }
}

/// One tensor info: name, dimensions (innermost first), ggml type, and the
/// data offset relative to the data section. Checked as ggml's gguf reader
/// checks it (name under GGML_MAX_NAME, at most 4 dimensions, each a
/// non-negative int64, a representable element count, a known type, whole
/// blocks per row), except that the element count must be representable
/// for the non-zero dimensions alone, so no order of multiplication overflows.
struct GGUFTensorInfo: ExpressibleByParsing {
    var name: String
    /// Absolute position of the name's length prefix.
    var position: Int
    /// Dimensions outermost first (the stored `ne` reversed).
    var shape: [Int]
    var dtype: DType
    /// Data offset relative to the data section.
    var offset: UInt64
    var byteCount: Int

    init(parsing input: inout ParserSpan) throws(GGUFError) {
        let path = input.source
        position = input.startPosition
        name = try input.readGGUFString("a tensor name")
        let nameLength = name.utf8.count
        guard nameLength <= GGUFFile.maximumNameLength else {
            throw .nameTooLong(path: path, offset: position, tensor: name, length: nameLength)
        }
        guard !name.utf8.contains(0) else { throw .nameContainsNUL(path: path, offset: position, tensor: name) }
        let name = name
        let dimensionsOffset = input.startPosition
        let dimensionCount = try input.gguf("the dimension count of '\(name)'") { (input) throws(ParsingError) in
            try input.read(UInt32.self, endianness: .little)
        }
        guard dimensionCount <= 4 else {
            throw .tooManyDimensions(path: path, offset: dimensionsOffset, tensor: name, count: dimensionCount)
        }
        var ne: [UInt64] = []
        for _ in 0..<dimensionCount {
            ne.append(try input.gguf("the dimensions of '\(name)'") { (input) throws(ParsingError) in
                try input.read(UInt64.self, endianness: .little)
            })
        }
        var nonZeroProduct = 1
        for size in ne {
            guard size <= UInt64(Int.max) else {
                throw .dimensionTooLarge(path: path, offset: dimensionsOffset + 4, tensor: name, shape: ne, dimension: size)
            }
            if size == 0 { continue }
            guard let product = nonZeroProduct *? Int(size) else {
                throw .badDimension(path: path, offset: dimensionsOffset + 4, tensor: name, shape: ne)
            }
            nonZeroProduct = product
        }
        let elements = ne.contains(0) ? 0 : nonZeroProduct
        let typeOffset = input.startPosition
        let typeID = try input.gguf("the type of '\(name)'") { (input) throws(ParsingError) in
            try input.read(UInt32.self, endianness: .little)
        }
        guard let dtype = DType(ggmlTypeID: typeID) else {
            if let removed = DType.removedGGMLTypeName(typeID) {
                throw .removedTensorType(path: path, offset: typeOffset, tensor: name, type: typeID, name: removed)
            }
            throw .unknownTensorType(path: path, offset: typeOffset, tensor: name, type: typeID)
        }
        self.dtype = dtype
        offset = try input.gguf("the data offset of '\(name)'") { (input) throws(ParsingError) in
            try input.read(UInt64.self, endianness: .little)
        }
        let rowLength = ne.first.map { Int($0) } ?? 1
        guard rowLength % dtype.blockSize == 0 else {
            throw .rowNotWholeBlocks(path: path, tensor: name, dtype: dtype, rowLength: rowLength)
        }
        guard let byteCount = dtype.byteCount(elements: elements) else {
            throw .badDimension(path: path, offset: dimensionsOffset + 4, tensor: name, shape: ne)
        }
        self.byteCount = byteCount
        shape = ne.reversed().map { Int($0) }
    }
}
