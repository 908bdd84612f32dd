/// Summary statistics of a tensor's values, computed in F32 from any stored
/// type by streaming over its data in blocks.
public struct TensorStatistics: Sendable, Equatable {
    public var count = 0
    /// Minimum and maximum over finite values; nil when there are none.
    public var minimum: Float?
    public var maximum: Float?
    /// Mean and population standard deviation over finite values.
    public var mean: Double = 0
    public var standardDeviation: Double = 0
    public var nanCount = 0
    public var infinityCount = 0

    /// Reads the whole tensor once.
    /// - Complexity: O(elements); memory is one chunk of decoded values.
    /// - Throws: `TensorStatisticsError` when the shape does not describe
    ///   the tensor's bytes (a `StoredTensor` built by hand).
    public init(of tensor: StoredTensor) throws {
        let chunkElements = max(tensor.dtype.blockSize, (1 << 16) / tensor.dtype.blockSize * tensor.dtype.blockSize)
        guard let total = checkedElementCount(tensor.shape), tensor.dtype.byteCount(elements: total) == tensor.byteCount else {
            throw TensorStatisticsError.shapeDoesNotMatchBytes(tensor: tensor.name, shape: tensor.shape, dtype: tensor.dtype, bytes: tensor.byteCount)
        }
        var sum = 0.0
        var sumOfSquares = 0.0
        var finite = 0
        var low = Float.infinity
        var high = -Float.infinity
        var buffer = [Float](repeating: 0, count: chunkElements)
        var start = 0
        while start < total {
            let count = min(chunkElements, total - start)
            let byteStart = tensor.byteRange.lowerBound + start / tensor.dtype.blockSize * tensor.dtype.blockBytes
            // `count` is a whole number of blocks: `total` is (checked above) and so is every chunk.
            let byteCount = count / tensor.dtype.blockSize * tensor.dtype.blockBytes
            try tensor.file.withBytes(in: byteStart..<(byteStart + byteCount)) { (bytes) throws in
                try buffer.withUnsafeMutableBufferPointer { values in
                    let slice = UnsafeMutableBufferPointer(rebasing: values[0..<count])
                    try ElementConversion.decode(bytes, as: tensor.dtype, into: slice)
                    for value in slice {
                        if value.isNaN {
                            nanCount += 1
                        } else if value.isInfinite {
                            infinityCount += 1
                        } else {
                            finite += 1
                            low = Swift.min(low, value)
                            high = Swift.max(high, value)
                            let wide = Double(value)
                            sum += wide
                            sumOfSquares += wide * wide
                        }
                    }
                }
            }
            start += count
        }
        self.count = total
        if finite > 0 {
            minimum = low
            maximum = high
            mean = sum / Double(finite)
            standardDeviation = (max(0, sumOfSquares / Double(finite) - mean * mean)).squareRoot()
        }
    }
}

/// Why statistics cannot be computed for a tensor.
public enum TensorStatisticsError: Error, Sendable, CustomStringConvertible {
    case shapeDoesNotMatchBytes(tensor: String, shape: [Int], dtype: DType, bytes: Int)

    public var description: String {
        switch self {
        case .shapeDoesNotMatchBytes(let tensor, let shape, let dtype, let bytes):
            "tensor '\(tensor)': \(dtype) shape \(shape) does not describe its \(bytes) bytes"
        }
    }
}
