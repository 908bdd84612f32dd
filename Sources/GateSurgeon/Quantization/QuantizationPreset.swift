/// A llama-quantize file type ("preset", `llama_ftype`): the default block
/// type and the per-tensor rules that mix in others (`QuantizationRules`).
///
/// Names, aliases and `general.file_type` values are llama.cpp's
/// (`QUANT_OPTIONS` of tools/quantize/quantize.cpp, `llama_ftype` of
/// include/llama.h, `llama_ftype_get_default_type` of src/llama-quant.cpp).
public enum QuantizationPreset: String, CaseIterable, Sendable, Hashable {
    case q4_0 = "Q4_0"
    case q4_1 = "Q4_1"
    case q5_0 = "Q5_0"
    case q5_1 = "Q5_1"
    case q8_0 = "Q8_0"
    case q2_K = "Q2_K"
    case q2_K_S = "Q2_K_S"
    case q3_K_S = "Q3_K_S"
    case q3_K_M = "Q3_K_M"
    case q3_K_L = "Q3_K_L"
    case q4_K_S = "Q4_K_S"
    case q4_K_M = "Q4_K_M"
    case q5_K_S = "Q5_K_S"
    case q5_K_M = "Q5_K_M"
    case q6_K = "Q6_K"
    case iq2_XXS = "IQ2_XXS"
    case iq2_XS = "IQ2_XS"
    case iq2_S = "IQ2_S"
    case iq2_M = "IQ2_M"
    case iq3_XXS = "IQ3_XXS"
    case iq3_XS = "IQ3_XS"
    case iq3_S = "IQ3_S"
    case iq3_M = "IQ3_M"
    case iq1_S = "IQ1_S"
    case iq1_M = "IQ1_M"
    case iq4_NL = "IQ4_NL"
    case iq4_XS = "IQ4_XS"
    case mxfp4MoE = "MXFP4_MOE"
    case tq1_0 = "TQ1_0"
    case tq2_0 = "TQ2_0"

    /// The name llama-quantize prints and files are named after ("Q4_K_M").
    public var name: String { rawValue }

    /// The `llama_ftype` value llama-quantize records as `general.file_type`.
    public var fileType: UInt32 {
        switch self {
        case .q4_0: 2
        case .q4_1: 3
        case .q8_0: 7
        case .q5_0: 8
        case .q5_1: 9
        case .q2_K: 10
        case .q3_K_S: 11
        case .q3_K_M: 12
        case .q3_K_L: 13
        case .q4_K_S: 14
        case .q4_K_M: 15
        case .q5_K_S: 16
        case .q5_K_M: 17
        case .q6_K: 18
        case .iq2_XXS: 19
        case .iq2_XS: 20
        case .q2_K_S: 21
        case .iq3_XS: 22
        case .iq3_XXS: 23
        case .iq1_S: 24
        case .iq4_NL: 25
        case .iq3_S: 26
        case .iq3_M: 27
        case .iq2_S: 28
        case .iq2_M: 29
        case .iq4_XS: 30
        case .iq1_M: 31
        case .tq1_0: 36
        case .tq2_0: 37
        case .mxfp4MoE: 38
        }
    }

    /// The type of every tensor the rules do not change
    /// (`llama_ftype_get_default_type`).
    public var defaultType: DType {
        switch self {
        case .q4_0: .q4_0
        case .q4_1: .q4_1
        case .q5_0: .q5_0
        case .q5_1: .q5_1
        case .q8_0: .q8_0
        case .q2_K, .q2_K_S: .q2_K
        case .q3_K_S, .q3_K_M, .q3_K_L: .q3_K
        case .q4_K_S, .q4_K_M: .q4_K
        case .q5_K_S, .q5_K_M: .q5_K
        case .q6_K: .q6_K
        case .iq2_XXS: .iq2_XXS
        case .iq2_XS, .iq2_S: .iq2_XS
        case .iq2_M: .iq2_S
        case .iq3_XXS: .iq3_XXS
        case .iq3_XS, .iq3_S, .iq3_M: .iq3_S
        case .iq1_S: .iq1_S
        case .iq1_M: .iq1_M
        case .iq4_NL: .iq4_NL
        case .iq4_XS: .iq4_XS
        case .mxfp4MoE: .mxfp4
        case .tq1_0: .tq1_0
        case .tq2_0: .tq2_0
        }
    }

    /// The preset a user typed: a name in any case ("q4_k_m"), llama-quantize's
    /// aliases `Q3_K`, `Q4_K`, `Q5_K` (the `_M` mixes), or the `general.file_type`
    /// number. nil for anything else, and for the float and copy types, which
    /// are conversions rather than presets.
    public init?(parsing text: String) {
        let upper = text.uppercased()
        if let preset = QuantizationPreset(rawValue: upper) {
            self = preset
            return
        }
        switch upper {
        case "Q3_K": self = .q3_K_M
        case "Q4_K": self = .q4_K_M
        case "Q5_K": self = .q5_K_M
        default:
            guard let number = UInt32(upper), let preset = Self.allCases.first(where: { $0.fileType == number }) else { return nil }
            self = preset
        }
    }
}
