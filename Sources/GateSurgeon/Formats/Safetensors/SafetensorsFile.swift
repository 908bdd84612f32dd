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
        let parsed: (Int, Metadata<String>?, [StoredTensor]) = try file.withBytes {
            (bytes) throws(SafetensorsError) in
            guard bytes.count >= 8 else { throw .fileTooSmall(path: path, size: bytes.count) }
            let length = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
            guard length <= UInt64(SafetensorsFile.maximumHeaderLength) else {
                throw .headerTooLarge(path: path, length: length, limit: SafetensorsFile.maximumHeaderLength)
            }
            let headerLength = Int(length)
            guard 8 + headerLength <= bytes.count else {
                throw .headerPastEnd(path: path, length: length, fileSize: bytes.count)
            }
            let header: JSONValue
            do throws(JSONError) {
                header = try JSONValue.parse(
                    UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + headerLength)]),
                    rejectingDuplicateKeys: true)
            } catch {
                throw .headerNotJSON(path: path, reason: error.reason, offset: error.offset)
            }
            guard case .object(let entries) = header else {
                throw .headerNotObject(path: path, kind: header.kindName)
            }
            let dataSize = bytes.count - 8 - headerLength
            let (metadata, tensors) = try SafetensorsFile.validate(
                entries: entries, path: path, file: file, dataStart: 8 + headerLength, dataSize: dataSize)
            return (headerLength, metadata, tensors)
        }
        (headerLength, metadata, tensors) = parsed
    }

    /// The tensor named `name`, if present.
    public func tensor(named name: String) -> StoredTensor? {
        tensors.first { $0.name == name }
    }

    private static func validate(
        entries: JSONObject, path: String, file: MappedFile, dataStart: Int, dataSize: Int
    ) throws(SafetensorsError) -> (Metadata<String>?, [StoredTensor]) {
        var metadata: Metadata<String>?
        // (name, dtype, shape, begin, end) before ordering by offset.
        var declared: [(String, DType, [Int], Int, Int)] = []
        declared.reserveCapacity(entries.count)
        for (name, value) in entries {
            if name == "__metadata__" {
                guard case .object(let map) = value else {
                    throw .invalidMetadata(path: path, key: name, problem: "must be an object of strings, found a \(value.kindName)")
                }
                metadata = Metadata()
                for (key, item) in map {
                    guard case .string(let text) = item else {
                        throw .invalidMetadata(path: path, key: key, problem: "value must be a string, found a \(item.kindName)")
                    }
                    metadata![key] = text
                }
                continue
            }
            guard case .object(let info) = value else {
                throw .invalidEntry(path: path, tensor: name, problem: "entry must be an object, found a \(value.kindName)")
            }
            guard case .string(let dtypeName) = info["dtype"] ?? .null else {
                throw .invalidEntry(path: path, tensor: name, problem: "missing string \"dtype\"")
            }
            guard let dtype = DType(safetensorsName: dtypeName) else {
                throw .unknownDType(path: path, tensor: name, dtype: dtypeName)
            }
            guard case .array(let shapeValues) = info["shape"] ?? .null else {
                throw .invalidEntry(path: path, tensor: name, problem: "missing array \"shape\"")
            }
            var shape: [Int] = []
            for dimension in shapeValues {
                guard case .int(let size) = dimension else {
                    if dimension.doubleValue.map({ $0 > 9.2e18 }) == true {
                        throw .elementCountOverflow(path: path, tensor: name, shape: shapeValues.map { $0.serialized() })
                    }
                    throw .invalidEntry(path: path, tensor: name, problem: "shape entries must be non-negative integers, found \(dimension.serialized())")
                }
                guard size >= 0 else {
                    throw .invalidEntry(path: path, tensor: name, problem: "negative dimension \(size) in shape")
                }
                shape.append(Int(size))
            }
            guard case .array(let offsets) = info["data_offsets"] ?? .null, offsets.count == 2,
                case .int(let begin) = offsets[0], case .int(let end) = offsets[1], begin >= 0, end >= 0
            else {
                throw .invalidEntry(path: path, tensor: name, problem: "\"data_offsets\" must be two non-negative integers")
            }
            guard begin <= end else {
                throw .invalidEntry(path: path, tensor: name, problem: "data_offsets begin \(begin) is after end \(end)")
            }
            declared.append((name, dtype, shape, Int(begin), Int(end)))
        }
        declared.sort { ($0.3, $0.4) < ($1.3, $1.4) }

        var tensors: [StoredTensor] = []
        tensors.reserveCapacity(declared.count)
        var expectedBegin = 0
        for (name, dtype, shape, begin, end) in declared {
            guard begin == expectedBegin else {
                throw .notContiguous(path: path, tensor: name, begin: begin, expected: expectedBegin, dataStart: dataStart)
            }
            guard let count = checkedElementCount(shape) else {
                throw .elementCountOverflow(path: path, tensor: name, shape: shape.map(String.init))
            }
            guard let expected = dtype.byteCount(elements: count) else {
                if count % dtype.blockSize != 0 {
                    throw .invalidEntry(path: path, tensor: name, problem: "\(count) elements of \(dtype) do not fill whole bytes")
                }
                throw .elementCountOverflow(path: path, tensor: name, shape: shape.map(String.init))
            }
            guard end - begin == expected else {
                throw .sizeMismatch(path: path, tensor: name, dtype: dtype, shape: shape, expected: expected, found: end - begin)
            }
            guard end <= dataSize else {
                throw .offsetsPastEnd(path: path, tensor: name, end: end, dataSize: dataSize)
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
