import JSON

/// A safetensors file, memory-mapped and validated.
///
/// Layout: an 8-byte little-endian header length N, N bytes of JSON
/// (`{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`),
/// then the data section. Validation is at least as strict as the reference
/// crate: the header is capped and must be a JSON object, offsets must tile
/// the data section exactly, every tensor's byte length must equal its
/// element count times its dtype size (overflow-checked), and a name may
/// appear only once.
public struct SafetensorsFile: Sendable {
    /// The reference implementation's cap on the header length.
    public static let maximumHeaderLength = 100_000_000

    public let file: MappedFile
    public var path: String { file.path }
    /// Length of the JSON header in bytes.
    public let headerLength: Int
    /// Absolute offset of the data section.
    public var dataStart: Int { 8 + headerLength }
    /// The free-form `__metadata__` map, in file order; nil when absent.
    public let metadata: Metadata<String>?
    /// Tensors in data order.
    public let tensors: [StoredTensor]

    public init(path: String) throws {
        try self.init(file: try MappedFile(path: path))
    }

    public init(file: MappedFile) throws(SafetensorsError) {
        self.file = file
        let path = file.path
        let parsed: (Int, Metadata<String>?, [StoredTensor]) = try file.withParserSpan {
            (input) throws(SafetensorsError) in
            let header = try SafetensorsFile.headerSpan(&input)
            let document: JSONDocument
            do throws(JSONError) {
                document = try header.withUnsafeBytes { (bytes) throws(JSONError) in
                    try JSONValue.parseDocument(bytes, rejectingDuplicateKeys: true)
                }
            } catch {
                throw .headerNotJSON(path: path, reason: error.reason, offset: error.offset)
            }
            guard case .object(let entries) = document.value else {
                throw .headerNotObject(path: path, kind: document.value.kindName)
            }
            // Member offsets are relative to the header text, which starts at byte 8.
            let positions = document.memberOffsets.mapValues { $0 + header.startPosition }
            let (metadata, tensors) = try SafetensorsFile.validate(
                entries: entries, positions: positions, path: path, file: file,
                dataStart: input.startPosition, dataSize: input.count)
            return (header.count, metadata, tensors)
        }
        (headerLength, metadata, tensors) = parsed
    }

    /// Reads the 8-byte little-endian header length and cuts off the header,
    /// checked against the cap and the file size.
    static func headerSpan(_ input: inout ParserSpan) throws(SafetensorsError) -> ParserSpan {
        let path = input.source
        let fileSize = input.count
        let length: UInt64
        do throws(ParsingError) {
            length = try input.read(UInt64.self, endianness: .little)
        } catch {
            throw .fileTooSmall(path: path, size: fileSize)
        }
        guard length <= UInt64(maximumHeaderLength) else {
            throw .headerTooLarge(path: path, length: length, limit: maximumHeaderLength)
        }
        do throws(ParsingError) {
            return try input.sliced(byteCount: length)
        } catch {
            throw .headerPastEnd(path: path, length: length, fileSize: fileSize)
        }
    }

    /// The tensor named `name`, if present.
    public func tensor(named name: String) -> StoredTensor? {
        tensors.first { $0.name == name }
    }

    /// Checks every entry of the header and lays the tensors out.
    /// - Parameter positions: absolute byte position of each member's name.
    private static func validate(
        entries: JSONObject, positions: [String: Int], path: String, file: MappedFile, dataStart: Int, dataSize: Int
    ) throws(SafetensorsError) -> (Metadata<String>?, [StoredTensor]) {
        var metadata: Metadata<String>?
        // (name, dtype, shape, begin, end) before ordering by offset.
        var declared: [(String, DType, [Int], Int, Int)] = []
        declared.reserveCapacity(entries.count)
        for (name, value) in entries {
            let at = positions[name]
            if name == "__metadata__" {
                guard case .object(let map) = value else {
                    throw .invalidMetadata(path: path, key: name, offset: at, problem: "must be an object of strings, found a \(value.kindName)")
                }
                metadata = Metadata()
                for (key, item) in map {
                    guard case .string(let text) = item else {
                        throw .invalidMetadata(path: path, key: key, offset: nil, problem: "value must be a string, found a \(item.kindName)")
                    }
                    metadata![key] = text
                }
                continue
            }
            guard case .object(let info) = value else {
                throw .invalidEntry(path: path, tensor: name, offset: at, problem: "entry must be an object, found a \(value.kindName)")
            }
            guard case .string(let dtypeName) = info["dtype"] ?? .null else {
                throw .invalidEntry(path: path, tensor: name, offset: at, problem: "missing string \"dtype\"")
            }
            guard let dtype = DType(safetensorsName: dtypeName) else {
                throw .unknownDType(path: path, tensor: name, offset: at, dtype: dtypeName)
            }
            guard case .array(let shapeValues) = info["shape"] ?? .null else {
                throw .invalidEntry(path: path, tensor: name, offset: at, problem: "missing array \"shape\"")
            }
            var shape: [Int] = []
            for dimension in shapeValues {
                guard case .int(let size) = dimension else {
                    if dimension.doubleValue.map({ $0 > 9.2e18 }) == true {
                        throw .elementCountOverflow(path: path, tensor: name, offset: at, shape: shapeValues.map { $0.serialized() })
                    }
                    throw .invalidEntry(path: path, tensor: name, offset: at, problem: "shape entries must be non-negative integers, found \(dimension.serialized())")
                }
                guard size >= 0 else {
                    throw .invalidEntry(path: path, tensor: name, offset: at, problem: "negative dimension \(size) in shape")
                }
                shape.append(Int(size))
            }
            guard checkedElementCount(shape) != nil else {
                throw .elementCountOverflow(path: path, tensor: name, offset: at, shape: shape.map(String.init))
            }
            guard case .array(let offsets) = info["data_offsets"] ?? .null, offsets.count == 2,
                case .int(let begin) = offsets[0], case .int(let end) = offsets[1], begin >= 0, end >= 0
            else {
                throw .invalidEntry(path: path, tensor: name, offset: at, problem: "\"data_offsets\" must be two non-negative integers")
            }
            guard begin <= end else {
                throw .invalidEntry(path: path, tensor: name, offset: at, problem: "data_offsets begin \(begin) is after end \(end)")
            }
            declared.append((name, dtype, shape, Int(begin), Int(end)))
        }
        declared.sort { ($0.3, $0.4) < ($1.3, $1.4) }
        let at = { (name: String) in positions[name] }

        var tensors: [StoredTensor] = []
        tensors.reserveCapacity(declared.count)
        var expectedBegin = 0
        for (name, dtype, shape, begin, end) in declared {
            guard begin == expectedBegin else {
                throw .notContiguous(path: path, tensor: name, begin: begin, expected: expectedBegin, dataStart: dataStart)
            }
            guard let count = checkedElementCount(shape) else {
                throw .elementCountOverflow(path: path, tensor: name, offset: at(name), shape: shape.map(String.init))
            }
            guard let expected = dtype.byteCount(elements: count) else {
                if count % dtype.blockSize != 0 {
                    throw .invalidEntry(path: path, tensor: name, offset: at(name), problem: "\(count) elements of \(dtype) do not fill whole bytes")
                }
                throw .elementCountOverflow(path: path, tensor: name, offset: at(name), shape: shape.map(String.init))
            }
            guard end - begin == expected else {
                throw .sizeMismatch(path: path, tensor: name, offset: at(name), dtype: dtype, shape: shape, expected: expected, found: end - begin)
            }
            guard end <= dataSize else {
                throw .offsetsPastEnd(path: path, tensor: name, offset: at(name), end: end, dataSize: dataSize)
            }
            tensors.append(StoredTensor(
                name: name, dtype: dtype, shape: shape, file: file,
                byteRange: (dataStart + begin)..<(dataStart + end)))
            expectedBegin = end
        }
        guard expectedBegin == dataSize else {
            throw .incompleteBuffer(path: path, covered: expectedBegin, dataSize: dataSize, dataStart: dataStart)
        }
        return (metadata, tensors)
    }
}
