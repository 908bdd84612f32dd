/// A llama-quantize run as part of a write: the preset (`Q4_K_M`, or one
/// type for every weight with `pure`), its options, and the importance
/// matrix the importance-weighted quantizers use.
public struct QuantizationRequest: Sendable {
    public var options: QuantizationOptions
    public var importance: ImportanceMatrix?
    /// Where `importance` was read, recorded in the output's metadata as llama-quantize does.
    public var importancePath: String?

    public init(options: QuantizationOptions, importance: ImportanceMatrix? = nil, importancePath: String? = nil) {
        var options = options
        options.hasImportance = importance != nil
        self.options = options
        self.importance = importance
        self.importancePath = importancePath
    }

    public var preset: QuantizationPreset { options.preset }

    /// Gives the tensors llama-quantize would quantize the type its rules
    /// choose, and their importance vectors; other tensors keep the type
    /// already planned. `keep` globs win over the rules.
    /// - Parameter model: the facts the rules read (layers, heads, experts).
    /// - Throws: what llama-quantize refuses: re-quantizing without
    ///   `allowRequantize`, a type that needs an importance matrix without
    ///   one, a malformed override, an importance vector of the wrong size.
    func apply(to plan: inout [PlannedTensor], model: QuantizationModel, policy: ConversionPolicy) throws {
        let tensors = plan.map { QuantizationTensor(name: $0.ggufName ?? $0.outputName, shape: $0.tensor.shape, storedType: $0.tensor.dtype) }
        let choices = try QuantizationInventory(tensors: tensors, model: model).choose(options: options)
        for index in plan.indices {
            let item = plan[index]
            let choice = choices[index]
            let names = [item.tensor.name, item.outputName] + (item.ggufName.map { [$0] } ?? [])
            guard choice.allowsQuantization, item.tensor.dtype.isFloatingPoint, !policy.keeps(names) else { continue }
            let name = tensors[index].name
            let experts = tensors[index].shape.count >= 3 ? tensors[index].shape[tensors[index].shape.count - 3] : 1
            let vector = try importance?.importance(forTensor: name, columns: tensors[index].shape.last ?? 1, experts: experts)
            if choice.requiresImportance && vector == nil {
                throw QuantizationRequestError.importanceRequired(tensor: name, type: choice.type, preset: preset, haveMatrix: importance != nil)
            }
            var note: String?
            if let fallback = choice.fallback {
                note = fallback.note
            } else if choice.type != preset.defaultType && !options.pure {
                note = choice.reason
            }
            plan[index].decision = ConversionPolicy.Decision(dtype: choice.type, fallbackNote: note)
            plan[index].importance = choice.type.isQuantized ? vector : nil
        }
    }

    /// The keys llama-quantize adds to a file quantized with an importance
    /// matrix (as key overrides, tools/quantize/quantize.cpp): strings cut to
    /// 127 bytes (at a character boundary, where llama.cpp's strncpy may cut
    /// a character), counts as uint32, the chunk count only when nonzero.
    var metadata: Metadata<GGUFValue> {
        guard let importance else { return Metadata() }
        var keys = Metadata<GGUFValue>()
        keys["quantize.imatrix.file"] = .string(Self.overrideString(importancePath ?? ""))
        if let dataset = importance.datasets.first { keys["quantize.imatrix.dataset"] = .string(Self.overrideString(dataset)) }
        keys["quantize.imatrix.entries_count"] = .uint32(UInt32(clamping: importance.entries.count))
        if importance.chunkCount > 0 { keys["quantize.imatrix.chunks_count"] = .uint32(importance.chunkCount) }
        return keys
    }

    /// llama.cpp's override strings hold 127 bytes.
    static func overrideString(_ text: String) -> String {
        var result = ""
        var bytes = 0
        for character in text {
            bytes += character.utf8.count
            guard bytes <= 127 else { break }
            result.append(character)
        }
        return result
    }
}

/// Why a quantization request cannot be carried out.
public enum QuantizationRequestError: Error, Sendable, CustomStringConvertible {
    /// The chosen type needs an importance matrix (llama-quantize refuses without one),
    /// or the matrix has no entry for the tensor.
    case importanceRequired(tensor: String, type: DType, preset: QuantizationPreset, haveMatrix: Bool)

    public var description: String {
        switch self {
        case .importanceRequired(let tensor, let type, let preset, let haveMatrix):
            haveMatrix
                ? "tensor '\(tensor)' would be \(type) (preset \(preset.name)), which needs an importance vector, and the importance matrix has none for it"
                : "tensor '\(tensor)' would be \(type) (preset \(preset.name)), which needs an importance matrix"
        }
    }
}
