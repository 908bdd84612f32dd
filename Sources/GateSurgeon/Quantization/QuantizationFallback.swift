/// llama.cpp's type for a tensor whose rows are not a whole number of blocks
/// of the type it would get (`tensor_type_fallback` in src/llama-quant.cpp):
/// the 256-element types step down to a 32-element type (IQ1/IQ2/IQ3/IQ4_XS
/// to IQ4_NL; Q2_K, Q3_K, TQ1_0, TQ2_0 to Q4_0; Q4_K to Q5_0; Q5_K to Q5_1;
/// Q6_K to Q8_0), and to F16 when even that does not fit.
public struct QuantizationFallback: Sendable, Equatable {
    /// The type asked for.
    public var requested: DType
    public var rowLength: Int
    /// The type used instead; nil when llama.cpp defines none (it then
    /// refuses the tensor).
    public var type: DType?

    /// nil when rows of `rowLength` are whole blocks of `requested`.
    public init?(for requested: DType, rowLength: Int) {
        guard rowLength % requested.blockSize != 0 else { return nil }
        self.requested = requested
        self.rowLength = rowLength
        var fallback: DType?
        switch requested {
        case .iq1_S, .iq1_M, .iq2_XXS, .iq2_XS, .iq2_S, .iq3_XXS, .iq3_S, .iq4_XS: fallback = .iq4_NL
        case .q2_K, .q3_K, .tq1_0, .tq2_0: fallback = .q4_0
        case .q4_K: fallback = .q5_0
        case .q5_K: fallback = .q5_1
        case .q6_K: fallback = .q8_0
        default: fallback = requested.blockSize <= 32 ? requested : nil
        }
        if let chosen = fallback, rowLength % chosen.blockSize != 0 { fallback = .f16 }
        type = fallback
    }

    /// What the plan says about it.
    public var note: String {
        guard let type else {
            return "rows of \(rowLength) are not a multiple of \(requested)'s block of \(requested.blockSize), and llama.cpp defines no smaller type"
        }
        return "rows of \(rowLength) are not a multiple of \(requested)'s block of \(requested.blockSize); using \(type) as llama.cpp does"
    }
}
