#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which type each tensor is written as.
///
/// The usual policy: with a quantization type, 2-D weights are quantized and
/// 1-D tensors (norms, biases) stay F32; with a float dtype, float tensors
/// are converted (in GGUF, 1-D tensors stay F32 as llama.cpp expects);
/// `keep` globs leave matching tensors exactly as stored.
public struct ConversionPolicy: Sendable {
    /// F32, F16 or BF16 for float tensors; nil keeps stored float types.
    public var dtype: DType?
    /// A ggml block type for 2-D weights.
    public var quantization: DType?
    /// Type of the token embedding when quantizing (default: `quantization`).
    public var embeddingType: DType?
    /// Type of lm_head when quantizing (default: `quantization`).
    public var outputType: DType?
    /// Shell globs (matched against both naming conventions) of tensors to leave as stored.
    public var keep: [String]

    public init(dtype: DType? = nil, quantization: DType? = nil, embeddingType: DType? = nil, outputType: DType? = nil, keep: [String] = []) {
        self.dtype = dtype
        self.quantization = quantization
        self.embeddingType = embeddingType
        self.outputType = outputType
        self.keep = keep
    }

    /// The plan for one tensor.
    public struct Decision: Sendable, Equatable {
        public var dtype: DType
        /// Set when the requested type could not hold the tensor and
        /// llama.cpp's fallback was taken; says why.
        public var fallbackNote: String?

        public init(dtype: DType, fallbackNote: String? = nil) {
            self.dtype = dtype
            self.fallbackNote = fallbackNote
        }
    }

    /// The type `tensor` is written as in `format`. `ggufName` is its
    /// llama.cpp name, used for `keep` and for the embedding/output rules.
    public func decide(for tensor: GraphTensor, ggufName: String?, format: CheckpointFormat) -> Decision {
        let names = [tensor.name] + (ggufName.map { [$0] } ?? [])
        if keep.contains(where: { pattern in names.contains { fnmatch(pattern, $0, 0) == 0 } }) {
            return Decision(dtype: storable(tensor.dtype, in: format), fallbackNote: nil)
        }
        guard tensor.dtype.isFloatingPoint else { return Decision(dtype: tensor.dtype, fallbackNote: nil) }
        let isMatrix = tensor.shape.count >= 2
        if let quantization, isMatrix {
            var requested = quantization
            if tensor.name == "model.embed_tokens.weight", let embeddingType { requested = embeddingType }
            if tensor.name == "lm_head.weight", let outputType { requested = outputType }
            return ConversionPolicy.fitting(requested, rowLength: tensor.shape.last ?? 1, format: format)
        }
        if quantization != nil || (format == .gguf && !isMatrix) {
            return Decision(dtype: .f32, fallbackNote: nil)
        }
        if let dtype { return Decision(dtype: dtype, fallbackNote: nil) }
        return Decision(dtype: storable(tensor.dtype, in: format), fallbackNote: nil)
    }

    /// A type the format can hold: block types and F8 in safetensors, and
    /// F8 in GGUF, are written as F32.
    func storable(_ dtype: DType, in format: CheckpointFormat) -> DType {
        switch format {
        case .safetensors: dtype.isSafetensorsType ? dtype : .f32
        case .gguf: dtype.ggmlTypeID != nil ? dtype : .f32
        }
    }

    /// llama.cpp's fallback when a row is not a whole number of blocks
    /// (`tensor_type_fallback` in llama-quant.cpp of the pinned llama.cpp):
    /// 256-element types step down to a 32-element type, and to F16 when
    /// even that does not fit.
    static func fitting(_ requested: DType, rowLength: Int, format: CheckpointFormat) -> Decision {
        QuantizationFallback(for: requested, rowLength: rowLength).map { Decision(dtype: $0.type ?? .f16, fallbackNote: $0.note) }
            ?? Decision(dtype: requested, fallbackNote: nil)
    }
}
