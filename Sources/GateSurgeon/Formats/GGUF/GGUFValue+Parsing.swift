// The metadata of a GGUF file read on the ParserSpan layer: key-value
// pairs, each value an `init(parsing:)` step; arrays of fixed-size elements
// and of strings become views of the mapped file.

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
