import Platform

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
        // ggml counts dimensions without outer sizes of 1 ([1, D] is a
        // vector), and llama.cpp keeps expert routers in F32 at every type.
        let isMatrix = tensor.shape.drop { $0 == 1 }.count >= 2
        if format == .gguf, names.contains(where: { $0.hasSuffix("ffn_gate_inp.weight") }) {
            return Decision(dtype: .f32, fallbackNote: nil)
        }
        if let quantization, isMatrix {
            var requested = quantization
            if names.contains(where: { $0 == "model.embed_tokens.weight" || $0 == "token_embd.weight" }), let embeddingType { requested = embeddingType }
            if names.contains(where: { $0 == "lm_head.weight" || $0 == "output.weight" }), let outputType { requested = outputType }
            return ConversionPolicy.fitting(requested, rowLength: tensor.shape.last ?? 1, format: format)
        }
        if quantization != nil || (format == .gguf && !isMatrix) {
            return Decision(dtype: .f32, fallbackNote: nil)
        }
        if let dtype { return Decision(dtype: dtype, fallbackNote: nil) }
        return Decision(dtype: storable(tensor.dtype, in: format), fallbackNote: nil)
    }

    /// Whether the `keep` glob `pattern` matches `planned`, by either name.
    public func keepMatches(_ pattern: String, _ planned: PlannedTensor) -> Bool {
        [planned.tensor.name, planned.outputName, planned.ggufName].contains { name in name.map { fnmatch(pattern, $0, 0) == 0 } ?? false }
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
