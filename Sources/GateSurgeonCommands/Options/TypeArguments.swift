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

/// What `--quant` accepts: a llama-quantize preset or type name in either
/// case (`Q4_K_M`, `q8_0`, `iq4_xs`), its aliases (`Q4_K` is `Q4_K_M`) or its
/// file-type number.
enum QuantArgument {
    static var valueList: String { QuantizationPreset.allCases.map(\.name).joined(separator: ", ") }

    static func parse(_ text: String) throws -> QuantizationPreset {
        if let preset = QuantizationPreset(parsing: text) { return preset }
        if FloatType(rawValue: text.lowercased()) != nil {
            throw ValidationError("\(text.lowercased()) is a float type: use --dtype \(text.lowercased())")
        }
        throw ValidationError("choose one of \(valueList)")
    }
}

/// The block types gatesurgeon writes.
enum QuantType {
    static let all: [DType] = DType.allCases.filter { $0.isQuantized && ElementConversion.canEncode($0) }
    static var valueList: String { all.map { $0.name.lowercased() }.joined(separator: ", ") }
}

/// What `--embedding-type` and `--output-type` accept: a block type or a float type.
struct TensorType: Equatable {
    var dtype: DType

    static var valueList: String { (FloatType.allCases.map(\.rawValue) + QuantType.all.map { $0.name.lowercased() }).joined(separator: ", ") }

    static func parse(_ text: String) throws -> TensorType {
        if let float = FloatType(rawValue: text.lowercased()) { return TensorType(dtype: float.dtype) }
        if let dtype = DType(userSpelling: text), QuantType.all.contains(dtype) { return TensorType(dtype: dtype) }
        throw ValidationError("choose one of \(valueList)")
    }
}

extension GateLayout: ExpressibleByArgument {}
extension GateGranularity: ExpressibleByArgument {}
extension GGUFArchitectureChoice: ExpressibleByArgument {}
