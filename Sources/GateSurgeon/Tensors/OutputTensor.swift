/// A tensor on its way into an output file: name, type, shape, and a
/// producer that streams exactly `byteCount` bytes of data.
///
/// Writers lay out headers from the declared sizes first and then call each
/// producer in turn, so only one tensor's working set is in memory at once.
public struct OutputTensor: Sendable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]
    public var byteCount: Int
    /// Length of the innermost dimension, 1 for a scalar.
    public var rowLength: Int { shape.last ?? 1 }
    /// Writes the data; must write exactly `byteCount` bytes.
    public var produce: @Sendable (OutputFile) throws -> Void

    public init(
        name: String, dtype: DType, shape: [Int], byteCount: Int,
        produce: @escaping @Sendable (OutputFile) throws -> Void
    ) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.byteCount = byteCount
        self.produce = produce
    }

    /// A stored tensor copied byte for byte from its mapping, in chunks whose
    /// pages are released after writing, so a copy never holds the model.
    /// - Parameter shape: the shape to declare, when it differs only by sizes of 1.
    public static func copying(_ tensor: StoredTensor, as name: String? = nil, shape: [Int]? = nil) -> OutputTensor {
        OutputTensor(name: name ?? tensor.name, dtype: tensor.dtype, shape: shape ?? tensor.shape, byteCount: tensor.byteCount) { output in
            // The kernel copies file to file where it can, without the bytes
            // passing through this process.
            if try output.copy(from: tensor.file.path, range: tensor.byteRange) { return }
            let chunk = 1 << 26
            var start = tensor.byteRange.lowerBound
            while start < tensor.byteRange.upperBound {
                let end = min(start + chunk, tensor.byteRange.upperBound)
                try tensor.file.withBytes(in: start..<end) { bytes in try output.write(bytes) }
                tensor.file.releasePages(in: start..<end)
                start = end
            }
        }
    }

    /// Small data computed up front.
    public static func bytes(_ data: [UInt8], name: String, dtype: DType, shape: [Int]) -> OutputTensor {
        OutputTensor(name: name, dtype: dtype, shape: shape, byteCount: data.count) { output in
            try output.write(data)
        }
    }

    /// F32 values computed up front.
    public static func floats(_ values: [Float], name: String, shape: [Int]) -> OutputTensor {
        var data = [UInt8](repeating: 0, count: values.count * 4)
        data.withUnsafeMutableBytes { raw in
            for (index, value) in values.enumerated() {
                raw.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: index * 4, as: UInt32.self)
            }
        }
        return .bytes(data, name: name, dtype: .f32, shape: shape)
    }
}

/// A producer wrote a different number of bytes than it declared.
public struct OutputSizeMismatch: Error, CustomStringConvertible {
    public var path: String
    public var tensor: String
    public var declared: Int
    public var written: Int
    public var description: String {
        "\(path): tensor '\(tensor)' produced \(written) bytes, declared \(declared)"
    }
}

extension OutputFile {
    /// Runs a tensor's producer and checks it wrote what it declared.
    func writeData(of tensor: OutputTensor) throws {
        let start = position
        try tensor.produce(self)
        if position - start != tensor.byteCount {
            throw OutputSizeMismatch(path: path, tensor: tensor.name, declared: tensor.byteCount, written: position - start)
        }
    }
}
