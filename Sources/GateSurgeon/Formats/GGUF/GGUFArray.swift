import Platform

/// The elements of a GGUF metadata array.
///
/// An array built in memory holds its values. An array read from a file is a
/// typed view of the mapped bytes: fixed-size elements are decoded when
/// accessed, strings were checked for UTF-8 while parsing and are built when
/// accessed. Counting is O(1), iteration decodes one element per step, and
/// writing the array back copies the stored bytes as they are, so `inspect`
/// of a file with a 50-million-element array uses memory for what it prints.
public struct GGUFArray: Sendable, RandomAccessCollection, Hashable {
    enum Storage: Sendable {
        case values([GGUFValue])
        case mapped(MappedGGUFArray)
    }

    let storage: Storage

    /// An array of the given values.
    public init(_ values: [GGUFValue]) {
        storage = .values(values)
    }

    init(mapped: MappedGGUFArray) {
        storage = .mapped(mapped)
    }

    public var startIndex: Int { 0 }

    public var endIndex: Int {
        switch storage {
        case .values(let values): values.count
        case .mapped(let view): view.count
        }
    }

    /// - Complexity: O(1) for built arrays and fixed-size elements; for a
    ///   string array read from a file, O(`MappedGGUFArray.checkpointStride`).
    public subscript(position: Int) -> GGUFValue {
        switch storage {
        case .values(let values): return values[position]
        case .mapped(let view):
            precondition(position >= 0 && position < view.count, "index out of range")
            return view.element(at: position)
        }
    }

    public func makeIterator() -> Iterator {
        switch storage {
        case .values(let values): Iterator(kind: .values(values.makeIterator()))
        case .mapped(let view): Iterator(kind: .mapped(view, next: view.range.lowerBound, remaining: view.count))
        }
    }

    /// Reads elements in order, one decode per step.
    public struct Iterator: IteratorProtocol {
        enum Kind {
            case values(IndexingIterator<[GGUFValue]>)
            case mapped(MappedGGUFArray, next: Int, remaining: Int)
        }

        var kind: Kind

        public mutating func next() -> GGUFValue? {
            switch kind {
            case .values(var iterator):
                let value = iterator.next()
                kind = .values(iterator)
                return value
            case .mapped(let view, let position, let remaining):
                guard remaining > 0 else { return nil }
                let (value, next) = view.element(startingAt: position)
                kind = .mapped(view, next: next, remaining: remaining - 1)
                return value
            }
        }
    }

    /// The element type a file view decodes, nil for a built array.
    var storedElementType: GGUFValueType? {
        if case .mapped(let view) = storage { return view.elementType }
        return nil
    }

    /// Calls `body` with the elements' bytes as the file stores them (after
    /// the element type and count) when this is a view of a file; nil for a
    /// built array.
    func withStoredBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R? {
        guard case .mapped(let view) = storage else { return nil }
        return try view.file.withBytes(in: view.range, body)
    }

    public static func == (a: GGUFArray, b: GGUFArray) -> Bool {
        guard a.count == b.count else { return false }
        if case .mapped(let x) = a.storage, case .mapped(let y) = b.storage, x.elementType == y.elementType,
            x.range.count == y.range.count
        {
            // Equal bytes mean equal elements except for floats (NaN is not
            // equal to itself); for integers unequal bytes mean unequal elements.
            let sameBytes = x.file.withBytes(in: x.range) { left in
                y.file.withBytes(in: y.range) { right in
                    left.count == 0 || memcmp(left.baseAddress!, right.baseAddress!, left.count) == 0
                }
            }
            switch x.elementType {
            case .uint8, .int8, .uint16, .int16, .uint32, .int32, .uint64, .int64: return sameBytes
            case .bool, .string: if sameBytes { return true }
            case .float32, .float64, .array: break
            }
        }
        return a.elementsEqual(b)
    }

    /// Hashes the count and the first elements: equal arrays have equal
    /// counts and elements, so equal hashes, without reading a huge array.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(count)
        for value in prefix(4) { hasher.combine(value) }
    }
}

/// A GGUF array of fixed-size elements or strings inside a mapped file,
/// already validated: every string record lies in `range` and holds UTF-8.
final class MappedGGUFArray: Sendable {
    /// String arrays remember where every `checkpointStride`-th record
    /// starts: element access walks at most this many length prefixes, and
    /// the table is 1/16 of an index of every element.
    static let checkpointStride = 16

    let file: MappedFile
    let elementType: GGUFValueType
    /// Absolute byte range of the elements (for strings, the records:
    /// u64 length then bytes).
    let range: Range<Int>
    let count: Int
    /// For strings: the absolute position of record 0, 16, 32, ...
    let checkpoints: [Int]

    init(file: MappedFile, elementType: GGUFValueType, range: Range<Int>, count: Int, checkpoints: [Int] = []) {
        self.file = file
        self.elementType = elementType
        self.range = range
        self.count = count
        self.checkpoints = checkpoints
    }

    /// The element at `index`.
    func element(at index: Int) -> GGUFValue {
        if let size = elementType.fixedSize {
            return element(startingAt: range.lowerBound + index * size).value
        }
        var position = checkpoints[index / Self.checkpointStride]
        for _ in 0..<(index % Self.checkpointStride) {
            position = stringRecord(at: position).end
        }
        return element(startingAt: position).value
    }

    /// The bytes of the string record at `position` and the position after
    /// it. Records were validated while parsing; should the file change
    /// under the mapping since, a record that no longer fits reads as empty
    /// and ends the array instead of reading outside it.
    private func stringRecord(at position: Int) -> (bytes: Range<Int>, end: Int) {
        guard position <= range.upperBound - 8 else { return (range.upperBound..<range.upperBound, range.upperBound) }
        let stored = file.withBytes(in: position..<(position + 8)) { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        let start = position + 8
        guard stored <= UInt64(range.upperBound - start) else { return (range.upperBound..<range.upperBound, range.upperBound) }
        let end = start + Int(stored)
        return (start..<end, end)
    }

    /// The element stored at absolute `position` and the position after it.
    func element(startingAt position: Int) -> (value: GGUFValue, next: Int) {
        func load<T: FixedWidthInteger & BitwiseCopyable>(_ type: T.Type) -> T {
            file.withBytes(in: position..<(position + MemoryLayout<T>.size)) { T(littleEndian: $0.loadUnaligned(as: T.self)) }
        }
        switch elementType {
        case .uint8: return (.uint8(load(UInt8.self)), position + 1)
        case .int8: return (.int8(load(Int8.self)), position + 1)
        case .bool: return (.bool(load(UInt8.self) != 0), position + 1)
        case .uint16: return (.uint16(load(UInt16.self)), position + 2)
        case .int16: return (.int16(load(Int16.self)), position + 2)
        case .uint32: return (.uint32(load(UInt32.self)), position + 4)
        case .int32: return (.int32(load(Int32.self)), position + 4)
        case .float32: return (.float32(Float(bitPattern: load(UInt32.self))), position + 4)
        case .uint64: return (.uint64(load(UInt64.self)), position + 8)
        case .int64: return (.int64(load(Int64.self)), position + 8)
        case .float64: return (.float64(Double(bitPattern: load(UInt64.self))), position + 8)
        case .string:
            let (bytes, end) = stringRecord(at: position)
            let text = file.withBytes(in: bytes) { String(decoding: $0, as: UTF8.self) }
            return (.string(text), end)
        case .array:
            preconditionFailure("nested arrays are parsed into values")
        }
    }
}
