/// Reading and writing llama-imatrix's files.
extension ImportanceMatrix {
    /// The key names of the GGUF format (common/imatrix-loader.h).
    static let datasetsKey = "imatrix.datasets"
    static let chunkCountKey = "imatrix.chunk_count"
    static let chunkSizeKey = "imatrix.chunk_size"

    /// Reads `path` as llama.cpp's `common_imatrix_load` does: a GGUF file
    /// (recognized by its magic), otherwise the legacy format. Every count
    /// and length is checked against the file before it is used.
    /// - Complexity: O(file size).
    public init(contentsOf path: String) throws(ImportanceMatrixError) {
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch {
            throw .cannotRead(error)
        }
        let isGGUF = file.withBytes { $0.count >= 4 && Array($0.prefix(4)) == GGUFFile.magic }
        if isGGUF {
            let gguf: GGUFFile
            do {
                gguf = try GGUFFile(file: file)
            } catch {
                throw .gguf(error)
            }
            self = try Self.read(gguf)
        } else {
            self = try file.withBytes { (bytes) throws(ImportanceMatrixError) in try Self.readLegacy(bytes, path: path) }
        }
    }

    /// The GGUF format: pairs of `<name>.in_sum2` (F32, `columns × experts`)
    /// and `<name>.counts` (F32, one per expert) tensors; counts are rounded
    /// to integers as llama.cpp rounds them (`lround`).
    static func read(_ gguf: GGUFFile) throws(ImportanceMatrixError) -> ImportanceMatrix {
        let path = gguf.path
        guard !gguf.tensors.isEmpty else { throw .empty(path: path) }
        var matrix = ImportanceMatrix(format: .gguf)
        let datasets = gguf.value(datasetsKey)
        if let datasets {
            // llama.cpp reads the key only when it is an array of strings.
            if case .array(.string, let values) = datasets { matrix.datasets = values.compactMap(\.stringValue) }
        }
        func count(_ key: String) throws(ImportanceMatrixError) -> UInt32? {
            guard let value = gguf.value(key) else { return nil }
            guard case .uint32(let number) = value else { throw .badMetadata(path: path, key: key, problem: "not a uint32") }
            return number
        }
        let chunkCount = try count(chunkCountKey)
        let chunkSize = try count(chunkSizeKey)
        matrix.chunkCount = chunkCount ?? 0
        matrix.chunkSize = chunkSize ?? 0
        matrix.hasMetadata = datasets != nil && chunkCount != nil && chunkSize != nil
        var sums: [String: StoredTensor] = [:]
        var counts: [String: StoredTensor] = [:]
        for tensor in gguf.tensors {
            if tensor.name.hasSuffix(".in_sum2") {
                sums[String(tensor.name.dropLast(8))] = tensor
            } else if tensor.name.hasSuffix(".counts") {
                counts[String(tensor.name.dropLast(7))] = tensor
            }
        }
        for name in Set(sums.keys).union(counts.keys).sorted() {
            guard let sum = sums[name], let count = counts[name] else { throw .unpaired(path: path, entry: name) }
            for tensor in [sum, count] where tensor.dtype != .f32 {
                throw .notF32(path: path, tensor: tensor.name, dtype: tensor.dtype)
            }
            let values = floats(sum)
            let rawCounts = floats(count)
            guard !rawCounts.isEmpty, values.count % rawCounts.count == 0 else {
                throw .shapeMismatch(path: path, entry: name, values: values.count, counts: rawCounts.count)
            }
            var rounded = [Int64]()
            rounded.reserveCapacity(rawCounts.count)
            for (index, value) in rawCounts.enumerated() {
                guard value.isFinite, value >= 0, value < 9.0e18 else {
                    throw .badCountValue(path: path, entry: name, index: index, value: value)
                }
                rounded.append(Int64(value.rounded(.toNearestOrAwayFromZero)))
            }
            matrix.entries[name] = Entry(sums: values, counts: rounded)
        }
        guard !matrix.entries.isEmpty else { throw .empty(path: path) }
        return matrix
    }

    /// The little-endian F32 values of a tensor.
    static func floats(_ tensor: StoredTensor) -> [Float] {
        tensor.withBytes { bytes in
            (0..<(bytes.count / 4)).map {
                Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
            }
        }
    }

    /// The legacy format: i32 entry count; per entry i32 name length, the
    /// name, i32 call count, i32 value count, the F32 values; then optionally
    /// i32 chunk count, i32 dataset name length and the name.
    static func readLegacy(_ bytes: UnsafeRawBufferPointer, path: String) throws(ImportanceMatrixError) -> ImportanceMatrix {
        var cursor = ParserSpan(unsafeBytes: bytes, source: path)
        func int32(_ what: String) throws(ImportanceMatrixError) -> Int32 {
            do {
                return try cursor.read(Int32.self, endianness: .little)
            } catch {
                throw .truncated(path: path, offset: error.location, reading: what)
            }
        }
        func take(_ count: Int, _ what: String) throws(ImportanceMatrixError) -> [UInt8] {
            do {
                return try cursor.readBytes(byteCount: count)
            } catch {
                throw .truncated(path: path, offset: error.location, reading: what)
            }
        }
        var matrix = ImportanceMatrix(format: .legacy, hasMetadata: false)
        let countOffset = cursor.startPosition
        let entryCount = try int32("the entry count")
        // Each entry takes at least 16 bytes (three counts and one value).
        guard entryCount >= 1, Int(entryCount) <= cursor.count / 16 else {
            throw entryCount < 1 ? .empty(path: path) : .badCount(path: path, offset: countOffset, what: "entry count", value: Int64(entryCount))
        }
        for index in 0..<Int(entryCount) {
            let lengthOffset = cursor.startPosition
            let length = try int32("the name length of entry \(index)")
            guard length >= 0, Int(length) <= cursor.count else {
                throw .badCount(path: path, offset: lengthOffset, what: "name length of entry \(index)", value: Int64(length))
            }
            // llama.cpp reads the name as a C string: it ends at the first NUL.
            let raw = try take(Int(length), "the name of entry \(index)")
            let name = String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            let calls = try int32("the call count of '\(name)'")
            let valuesOffset = cursor.startPosition
            let valueCount = try int32("the value count of '\(name)'")
            guard valueCount >= 1, Int(valueCount) <= cursor.count / 4 else {
                throw .badCount(path: path, offset: valuesOffset, what: "value count of '\(name)'", value: Int64(valueCount))
            }
            let data = try take(Int(valueCount) * 4, "the values of '\(name)'")
            let sums = data.withUnsafeBytes { raw in
                (0..<Int(valueCount)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
            }
            matrix.entries[name] = Entry(sums: sums, counts: [Int64(calls)])
        }
        // The optional trailer: chunk count, then the dataset name.
        if cursor.count > 0 {
            matrix.chunkCount = UInt32(bitPattern: try int32("the chunk count"))
            if cursor.count > 0 {
                let lengthOffset = cursor.startPosition
                let length = try int32("the dataset name length")
                if length > 0 {
                    guard Int(length) <= cursor.count else {
                        throw .badCount(path: path, offset: lengthOffset, what: "dataset name length", value: Int64(length))
                    }
                    let raw = try take(Int(length), "the dataset name")
                    matrix.datasets = [String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)]
                }
            }
            if cursor.count > 0 { throw .trailingBytes(path: path, offset: cursor.startPosition, count: cursor.count) }
        }
        return matrix
    }

    /// Writes the GGUF format exactly as llama-imatrix does
    /// (`IMatrixCollector::save_imatrix`): `general.type` "imatrix", the
    /// three `imatrix.*` keys, then for each entry in name order its sums
    /// (`[experts, columns]`) and counts (`[experts, 1]`) as F32, with
    /// trailing dimensions of 1 dropped as ggml drops them.
    /// - Complexity: O(total values).
    public func writeGGUF(to path: String) throws {
        guard format == .gguf else { throw ImportanceMatrixError.legacyNotWritable }
        let metadata = Metadata<GGUFValue>([
            ("general.type", .string("imatrix")),
            (Self.datasetsKey, .array(elementType: .string, values: datasets.map { .string($0) })),
            (Self.chunkCountKey, .uint32(chunkCount)),
            (Self.chunkSizeKey, .uint32(chunkSize)),
        ])
        var tensors: [OutputTensor] = []
        for name in entries.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            let entry = entries[name]!
            let experts = entry.counts.count
            guard !entry.sums.isEmpty, experts > 0 else { continue }
            tensors.append(.floats(entry.sums, name: "\(name).in_sum2", shape: Self.ggmlShape([experts, entry.sums.count / experts])))
            tensors.append(.floats(entry.counts.map { Float($0) }, name: "\(name).counts", shape: Self.ggmlShape([experts, 1])))
        }
        try GGUFWriter.write(metadata: metadata, tensors: tensors, to: path)
    }

    /// A shape (outermost first) without the outer dimensions of 1 that
    /// `ggml_n_dims` leaves out of a GGUF tensor info.
    static func ggmlShape(_ shape: [Int]) -> [Int] {
        var shape = shape[...]
        while shape.count > 1, shape.first == 1 { shape = shape.dropFirst() }
        return Array(shape)
    }
}
