/// A tensor as a checkpoint file stores it: a name, an element type, a shape
/// and a byte range of a mapped file. Reading it copies nothing.
public struct StoredTensor: Sendable {
    public var name: String
    public var dtype: DType
    /// Dimensions, outermost first (PyTorch order) in both formats: a GGUF
    /// `ne` list is stored reversed here.
    public var shape: [Int]
    public let file: MappedFile
    /// Absolute byte range of the data in `file`.
    public var byteRange: Range<Int>

    public init(name: String, dtype: DType, shape: [Int], file: MappedFile, byteRange: Range<Int>) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.file = file
        self.byteRange = byteRange
    }

    public var elementCount: Int { shape.reduce(1, *) }
    public var byteCount: Int { byteRange.count }
    /// Length of the innermost dimension (a row), 1 for a scalar.
    public var rowLength: Int { shape.last ?? 1 }

    /// Calls `body` with the tensor's bytes, borrowed from the mapping.
    public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try file.withBytes(in: byteRange, body)
    }
}

/// Element count of `shape`, or nil when it overflows `Int` or a dimension
/// is negative.
public func checkedElementCount(_ shape: [Int]) -> Int? {
    var count = 1
    for dimension in shape {
        guard dimension >= 0 else { return nil }
        let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
        if overflow { return nil }
        count = product
    }
    return count
}
