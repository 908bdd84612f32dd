/// A GGUF file (versions 2 and 3), memory-mapped and validated.
///
/// Layout: magic "GGUF", u32 version, u64 tensor count, u64 key-value count,
/// the key-value pairs, the tensor infos (name, dimensions innermost first,
/// ggml type, offset into the data section), padding to `general.alignment`
/// (32 by default), then the data section. Every count, length and offset
/// is bounded by the bytes left in the file before anything is allocated;
/// every dimension fits a signed 64-bit integer and so does the product of
/// the non-zero dimensions of a tensor, so any element count or stride
/// computed from a shape cannot overflow.
public struct GGUFFile: Sendable {
    public static let defaultAlignment = 32
    public static let magic: [UInt8] = Array("GGUF".utf8)
    /// The longest tensor name ggml holds: GGML_MAX_NAME (64) less the terminator.
    public static let maximumNameLength = 63

    public let file: MappedFile
    public var path: String { file.path }
    public let version: UInt32
    /// Metadata in file order, with exact value types; arrays are views of the file.
    public let metadata: Metadata<GGUFValue>
    /// Tensors in file order; shapes outermost first.
    public let tensors: [StoredTensor]
    public let alignment: Int
    /// Absolute offset of the data section.
    public let dataStart: Int

    public init(path: String) throws {
        try self.init(file: try MappedFile(path: path))
    }

    /// Parses and checks `file`: header, metadata, tensor infos, then the
    /// placement of every tensor's data.
    /// - Complexity: O(header bytes + tensors log tensors); metadata arrays
    ///   of fixed-size elements are not read, string arrays are read once
    ///   for UTF-8.
    public init(file: MappedFile) throws(GGUFError) {
        self.file = file
        let parsed = try file.withParserSpan { (input) throws(GGUFError) in
            let header = try GGUFHeader(parsing: &input)
            let metadata = try Metadata<GGUFValue>(parsingGGUF: &input, count: header.metadataCount, file: file)
            let alignment = try GGUFFile.alignment(in: metadata, path: file.path)
            var infos: [GGUFTensorInfo] = []
            infos.reserveCapacity(header.tensorCount)
            var names = Set<String>()
            for _ in 0..<header.tensorCount {
                let info = try GGUFTensorInfo(parsing: &input)
                guard names.insert(info.name).inserted else {
                    throw .duplicateTensor(path: file.path, offset: info.position, tensor: info.name)
                }
                infos.append(info)
            }
            guard let dataStart = input.startPosition.roundedUp(toMultipleOf: alignment) else {
                throw .invalidValue(path: file.path, offset: input.startPosition, reading: "the end of the header", problem: "padding overflows")
            }
            let tensors = try GGUFFile.place(infos, in: file, dataStart: dataStart, alignment: alignment)
            return (header.version, metadata, tensors, alignment, dataStart)
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

    /// Each tensor's absolute byte range, checked to be aligned, inside the
    /// file, and not overlapping another tensor's.
    private static func place(
        _ infos: [GGUFTensorInfo], in file: MappedFile, dataStart: Int, alignment: Int
    ) throws(GGUFError) -> [StoredTensor] {
        var tensors: [StoredTensor] = []
        tensors.reserveCapacity(infos.count)
        for info in infos {
            guard info.offset % UInt64(alignment) == 0 else {
                throw .misalignedTensor(path: file.path, tensor: info.name, offset: info.offset, alignment: alignment)
            }
            guard let relative = Int(exactly: info.offset), let start = dataStart +? relative,
                let end = start +? info.byteCount, end <= file.size
            else {
                throw .tensorPastEnd(path: file.path, tensor: info.name, offset: info.offset, dataStart: dataStart,
                                     byteCount: info.byteCount, fileSize: file.size)
            }
            tensors.append(StoredTensor(name: info.name, dtype: info.dtype, shape: info.shape, file: file, byteRange: start..<end))
        }
        let byStart = tensors.sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }
        for (previous, next) in zip(byStart, byStart.dropFirst())
        where next.byteRange.lowerBound < previous.byteRange.upperBound {
            throw .overlappingTensors(path: file.path, tensor: next.name, other: previous.name)
        }
        return tensors
    }

    /// `general.architecture`, when present.
    public var architecture: String? { value("general.architecture")?.stringValue }
}
