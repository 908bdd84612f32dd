/// The metadata of a GGUF file gatesurgeon writes: the source's own when it
/// was GGUF, else what llama.cpp's convert_hf_to_gguf.py writes for the
/// architecture, in the same order.
enum GGUFMetadataBuilder {
    /// - Parameter requested: the type asked for (`--quant`, else `--dtype`);
    ///   llama.cpp records it as the file type even where rows fell back.
    /// - Parameter tokenizerSource: a GGUF file whose `tokenizer.*` keys
    ///   replace any the model has.
    static func metadata(for graph: ModelGraph, plan: [PlannedTensor], requested: DType?, tokenizerSource: String? = nil) throws -> [(key: String, value: GGUFValue)] {
        var metadata: [(key: String, value: GGUFValue)]
        if let source = graph.ggufMetadata {
            metadata = source
        } else {
            metadata = try architectureMetadata(graph)
        }
        if let tokenizerSource {
            let donor = try GGUFFile(path: tokenizerSource)
            let keys = donor.metadata.filter { $0.key.hasPrefix("tokenizer.") }
            guard !keys.isEmpty else { throw ModelError.unsupportedModel(path: tokenizerSource, problem: "has no tokenizer.* metadata to copy") }
            metadata.removeAll { $0.key.hasPrefix("tokenizer.") }
            metadata += keys
        }
        set(&metadata, "general.file_type", .uint32(fileType(requested ?? dominantType(plan))))
        if let gate = graph.config.gate, gate.layout == .separate {
            set(&metadata, ModelConfig.ggufGateGranularityKey, .string(gate.granularity.rawValue))
        }
        return metadata
    }

    private static func set(_ metadata: inout [(key: String, value: GGUFValue)], _ key: String, _ value: GGUFValue) {
        if let index = metadata.firstIndex(where: { $0.key == key }) {
            metadata[index].value = value
        } else if let quantization = metadata.firstIndex(where: { $0.key == "general.quantization_version" }) {
            metadata.insert((key, value), at: quantization)
        } else {
            metadata.append((key, value))
        }
    }

    /// The most common type of the 2-D tensors.
    static func dominantType(_ plan: [PlannedTensor]) -> DType {
        var counts: [DType: Int] = [:]
        for item in plan where item.tensor.shape.count >= 2 { counts[item.dtype, default: 0] += item.tensor.elementCount }
        return counts.max { $0.value < $1.value }?.key ?? .f32
    }

    /// llama.cpp's `llama_ftype` for a type (K types as their _M variants,
    /// as llama-quantize names them).
    static func fileType(_ type: DType) -> UInt32 {
        switch type {
        case .f32: return 0
        case .f16: return 1
        case .q4_0: return 2
        case .q4_1: return 3
        case .q8_0: return 7
        case .q5_0: return 8
        case .q5_1: return 9
        case .q2_K: return 10
        case .q3_K: return 12
        case .q4_K: return 15
        case .q5_K: return 17
        case .q6_K: return 18
        case .iq4_NL: return 25
        case .iq4_XS: return 30
        case .bf16: return 32
        default: return 0
        }
    }

    /// The keys convert_hf_to_gguf.py writes for Llama, Mistral, Qwen2 and
    /// Qwen3, in its order (tokenizer keys follow when a tokenizer is found).
    static func architectureMetadata(_ graph: ModelGraph) throws -> [(key: String, value: GGUFValue)] {
        let config = graph.config
        let arch = config.family.ggufArchitecture
        let textConfig = config.json["text_config"]?.objectValue ?? config.json
        var metadata: [(key: String, value: GGUFValue)] = [
            ("general.architecture", .string(arch)),
            ("general.type", .string("model")),
            ("general.name", .string(Paths.lastComponent(of: Paths.isDirectory(graph.sourcePath) ? graph.sourcePath : Paths.directory(of: graph.sourcePath)))),
            ("\(arch).block_count", .uint32(UInt32(config.layerCount))),
            ("\(arch).context_length", .uint32(UInt32(config.maxPositionEmbeddings))),
            ("\(arch).embedding_length", .uint32(UInt32(config.hiddenSize))),
            ("\(arch).feed_forward_length", .uint32(UInt32(config.intermediateSize))),
            ("\(arch).attention.head_count", .uint32(UInt32(config.headCount))),
            ("\(arch).attention.head_count_kv", .uint32(UInt32(config.kvHeadCount))),
            ("\(arch).rope.freq_base", .float32(Float(config.ropeTheta))),
            ("\(arch).attention.layer_norm_rms_epsilon", .float32(Float(config.rmsNormEps))),
        ]
        if textConfig["head_dim"] != nil {
            metadata.append(("\(arch).attention.key_length", .uint32(UInt32(config.headDim))))
            metadata.append(("\(arch).attention.value_length", .uint32(UInt32(config.headDim))))
        }
        if case .linear(let factor) = config.ropeScaling {
            metadata.append(("\(arch).rope.scaling.type", .string("linear")))
            metadata.append(("\(arch).rope.scaling.factor", .float32(Float(factor))))
        }
        metadata.append(("general.file_type", .uint32(0)))
        if arch == "llama" {
            metadata.append(("\(arch).vocab_size", .uint32(UInt32(config.vocabSize))))
            metadata.append(("\(arch).rope.dimension_count", .uint32(UInt32(config.rotaryDimensions))))
        }
        metadata.append(("general.quantization_version", .uint32(2)))
        let directory = Paths.isDirectory(graph.sourcePath) ? graph.sourcePath : Paths.directory(of: graph.sourcePath)
        let converterModel: TokenizerGGUFMetadata.ConverterModel = config.family == .llama || config.family == .mistral ? .llama : .qwen2
        if Paths.exists(Paths.join(directory, "tokenizer.model")),
            let tokenizer = try TokenizerGGUFMetadata(directory: directory, vocabularySize: config.vocabSize, model: converterModel)
        {
            metadata += tokenizer.keys
        }
        return metadata
    }
}
