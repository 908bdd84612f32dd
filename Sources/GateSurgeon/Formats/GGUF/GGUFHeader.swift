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
