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

    /// The number of elements. Shapes read from files have non-negative
    /// dimensions whose non-zero product fits `Int` (both readers check),
    /// so this cannot overflow for them; for any other shape an overflowing
    /// product saturates at `Int.max` instead of trapping.
    public var elementCount: Int { checkedElementCount(shape) ?? Int.max }
    public var byteCount: Int { byteRange.count }
    /// Length of the innermost dimension (a row), 1 for a scalar.
    public var rowLength: Int { shape.last ?? 1 }

    /// Calls `body` with the tensor's bytes, borrowed from the mapping.
    public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try file.withBytes(in: byteRange, body)
    }
}

/// Element count of `shape`, or nil when a dimension is negative or the
/// product of the non-zero dimensions overflows `Int`. Requiring the
/// non-zero product to fit (not just the whole product, which a zero makes
/// 0) means every partial product of the dimensions, in any order, fits too:
/// row counts, strides and sizes computed from an accepted shape cannot trap.
public func checkedElementCount(_ shape: [Int]) -> Int? {
    var nonZeroProduct = 1
    var hasZero = false
    for dimension in shape {
        guard dimension >= 0 else { return nil }
        if dimension == 0 {
            hasZero = true
            continue
        }
        guard let product = nonZeroProduct *? dimension else { return nil }
        nonZeroProduct = product
    }
    return hasZero ? 0 : nonZeroProduct
}
