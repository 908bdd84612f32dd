import ArgumentParser
import GateSurgeon

/// The float types `--dtype` converts to.
enum FloatType: String, ExpressibleByArgument, CaseIterable {
    case f32, f16, bf16

    var dtype: DType {
        switch self {
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        }
    }
}

/// What `--quant` and the per-tensor type options accept: a ggml block
/// type gatesurgeon writes, spelled as llama-quantize spells it in either case.
struct QuantType: Equatable {
    var dtype: DType

    /// The block types gatesurgeon quantizes to, in llama-quantize's order.
    static let all: [DType] = [.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_NL, .iq4_XS]

    static var valueList: String { all.map { $0.name.lowercased() }.joined(separator: ", ") }

    /// Parses a type name; explains presets and float types instead of a bare "invalid".
    static func parse(_ text: String) throws -> QuantType {
        if let dtype = DType(userSpelling: text), all.contains(dtype) { return QuantType(dtype: dtype) }
        let upper = text.uppercased()
        if FloatType(rawValue: text.lowercased()) != nil {
            throw ValidationError("\(text.lowercased()) is a float type: use --dtype \(text.lowercased())")
        }
        if let base = presetBase(upper) {
            throw ValidationError("\(upper) is one of llama-quantize's mixed presets, which gatesurgeon does not write yet; the closest single type is \(base.name.lowercased()) (choose from \(valueList))")
        }
        throw ValidationError("choose one of \(valueList)")
    }

    /// The single type a llama-quantize preset name is built around (Q4_K_M -> Q4_K).
    private static func presetBase(_ name: String) -> DType? {
        for suffix in ["_XXS", "_XS", "_S", "_M", "_L"] where name.hasSuffix(suffix) {
            let stem = String(name.dropLast(suffix.count))
            if let dtype = DType(rawValue: stem), all.contains(dtype) { return dtype }
        }
        return nil
    }
}

/// What `--embedding-type` and `--output-type` accept: a block type or a float type.
struct TensorType: Equatable {
    var dtype: DType

    static var valueList: String { (FloatType.allCases.map(\.rawValue) + QuantType.all.map { $0.name.lowercased() }).joined(separator: ", ") }

    static func parse(_ text: String) throws -> TensorType {
        if let float = FloatType(rawValue: text.lowercased()) { return TensorType(dtype: float.dtype) }
        return TensorType(dtype: try QuantType.parse(text).dtype)
    }
}

extension GateLayout: ExpressibleByArgument {}
extension GateGranularity: ExpressibleByArgument {}
