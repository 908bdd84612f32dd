import Platform

/// Which type each tensor is written as.
///
/// With a quantization request (GGUF output), llama-quantize's rules pick
/// each weight's block type (`QuantizationRules`: the preset's mix, or one
/// type for all with `pure`) and 1-D tensors (norms, biases) and expert
/// routers stay F32; with a float dtype, float tensors are converted (in
/// GGUF, 1-D tensors stay F32 as llama.cpp expects); `keep` globs leave
/// matching tensors exactly as stored.
public struct ConversionPolicy: Sendable {
    /// F32, F16 or BF16 for float tensors; nil keeps stored float types.
    public var dtype: DType?
    /// llama-quantize's preset and options, for GGUF output.
    public var quantization: QuantizationRequest?
    /// Shell globs (matched against both naming conventions) of tensors to leave as stored.
    public var keep: [String]

    public init(dtype: DType? = nil, quantization: QuantizationRequest? = nil, keep: [String] = []) {
        self.dtype = dtype
        self.quantization = quantization
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

    /// The type `tensor` is written as in `format` before any quantization
    /// (`QuantizationRequest.apply` then picks block types for the weights
    /// llama-quantize would quantize). `ggufName` is its llama.cpp name, also
    /// matched by `keep`.
    public func decide(for tensor: GraphTensor, ggufName: String?, format: CheckpointFormat) -> Decision {
        let names = [tensor.name] + (ggufName.map { [$0] } ?? [])
        if keeps(names) {
            return Decision(dtype: storable(tensor.dtype, in: format), fallbackNote: nil)
        }
        guard tensor.dtype.isFloatingPoint else { return Decision(dtype: tensor.dtype, fallbackNote: nil) }
        // llama.cpp's converter keeps vectors and expert routers in F32 at every type.
        if format == .gguf && (!Self.isMatrix(tensor.shape) || names.contains { $0.hasSuffix("ffn_gate_inp.weight") }) {
            return Decision(dtype: .f32, fallbackNote: nil)
        }
        if let dtype { return Decision(dtype: dtype, fallbackNote: nil) }
        return Decision(dtype: storable(tensor.dtype, in: format), fallbackNote: nil)
    }

    /// Whether `names` (either convention) match a `keep` glob.
    func keeps(_ names: [String]) -> Bool {
        keep.contains { pattern in names.contains { fnmatch(pattern, $0, 0) == 0 } }
    }

    /// ggml counts dimensions without outer sizes of 1: [1, D] is a vector.
    static func isMatrix(_ shape: [Int]) -> Bool { shape.drop { $0 == 1 }.count >= 2 }

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

}
