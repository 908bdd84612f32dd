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
