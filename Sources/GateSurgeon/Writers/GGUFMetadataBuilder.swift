/// The metadata of a GGUF file gatesurgeon writes: the source's own when it
/// was GGUF, else what llama.cpp's convert_hf_to_gguf.py writes for the
/// architecture, in the same order.
enum GGUFMetadataBuilder {
    /// - Parameter requested: the type asked for (`--quant`, else `--dtype`);
    ///   llama.cpp records it as the file type even where rows fell back.
    /// - Parameter options: `tokenizerSource`, a GGUF file whose `tokenizer.*`
    ///   keys replace any the model has; `tokenizerPre`, the pre-tokenizer name
    ///   for a tokenizer whose hash the converter does not know.
    /// - Parameter warnings: gets what the user should know about the keys.
    static func metadata(for graph: ModelGraph, plan: [PlannedTensor], options: WriteOptions, warnings: inout [WriteWarning]) throws -> Metadata<GGUFValue> {
        var metadata: Metadata<GGUFValue>
        let architecture = graph.config.architecture
        if let source = graph.ggufMetadata, source[GGUFKey.architecture]?.stringValue == architecture.ggufName {
            metadata = source
        } else if let source = graph.ggufMetadata {
            // A GGUF source written as another architecture (step35 or back): its general.* keys
            // (name, license, ...), the new architecture's keys, its own tokenizer.
            let name = source[GGUFKey.name]?.stringValue ?? Paths.lastComponent(of: graph.sourcePath)
            let recomputed: Set<String> = [GGUFKey.architecture, GGUFKey.fileType, GGUFKey.quantizationVersion]
            metadata = [GGUFKey.architecture: .string(architecture.ggufName)]
            metadata.merge(Metadata(source.filter { $0.key.hasPrefix("general.") && !recomputed.contains($0.key) }))
            metadata.merge(architecture.ggufMetadata(for: graph.config, name: name))
            metadata.merge(Metadata(source.filter { $0.key.hasPrefix("tokenizer.") }))
        } else {
            // Another file's tokenizer replaces the model's: the model's own is not read (it may be one the converter refuses).
            metadata = try architectureMetadata(graph, tokenizerPre: options.tokenizerPre, withTokenizer: options.tokenizerSource == nil, warnings: &warnings)
        }
        let policy = options.policy
        if let tokenizerSource = options.tokenizerSource {
            let donor = try GGUFModel(path: tokenizerSource)
            let keys = Metadata(donor.metadata.filter { $0.key.hasPrefix("tokenizer.") })
            guard !keys.isEmpty else { throw ModelError.unsupportedModel(path: tokenizerSource, problem: "has no tokenizer.* metadata to copy") }
            metadata.removeAll { $0.key.hasPrefix("tokenizer.") }
            metadata.merge(keys)
        }
        recordFileType(&metadata, plan: plan, policy: policy, asLlamaQuantize: graph.sourceFormat == .gguf)
        // step35 computes its own attn_gate; the marker is for the architectures that do not.
        if let gate = graph.config.gate, gate.layout == .separate, !architecture.isStep35 {
            set(&metadata, GGUFKey.outputGate, .string(gate.granularity.rawValue))
        }
        return metadata
    }

    /// Sets `general.file_type` as llama-quantize does (the preset's file
    /// type, even where rows fell back), or the converter (the requested
    /// float type, else the most common type of the 2-D tensors); adds
    /// llama-quantize's importance-matrix keys.
    /// - Parameter asLlamaQuantize: order the keys as llama-quantize does:
    ///   its `gguf_set_val` removes a key and appends it, so
    ///   `general.quantization_version`, `general.file_type` and the
    ///   importance-matrix keys end the metadata, after the source's
    ///   tokenizer keys. Otherwise `general.file_type` takes the converter's
    ///   place, before `general.quantization_version`.
    static func recordFileType(_ metadata: inout Metadata<GGUFValue>, plan: [PlannedTensor], policy: ConversionPolicy, asLlamaQuantize: Bool) {
        let fileType = policy.quantization?.preset.fileType ?? fileType(policy.dtype ?? dominantType(plan))
        let imatrixKeys = policy.quantization?.metadata ?? Metadata()
        guard asLlamaQuantize else {
            set(&metadata, "general.file_type", .uint32(fileType))
            for (key, value) in imatrixKeys { set(&metadata, key, value) }
            return
        }
        let appended: Metadata<GGUFValue> = ["general.quantization_version": .uint32(ggmlQuantizationVersion), "general.file_type": .uint32(fileType)]
        for (key, value) in [appended, imatrixKeys].joined() {
            metadata[key] = nil
            metadata[key] = value
        }
    }

    /// ggml's `GGML_QNT_VERSION`, which llama-quantize records.
    static let ggmlQuantizationVersion: UInt32 = 2

    private static func set(_ metadata: inout Metadata<GGUFValue>, _ key: String, _ value: GGUFValue) {
        metadata.set(key, value, before: "general.quantization_version")
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

    /// Names of the tensors in which llama.cpp keeps RoPE scaling.
    static let ropeTensorNames: Set<String> = ["rope_freqs.weight", "rope_factors_long.weight", "rope_factors_short.weight"]

    /// The tensors llama.cpp's converter generates for a config's RoPE
    /// scaling, in its order: Llama 3's per-frequency divisors
    /// (`rope_freqs`, families that read it), LongRoPE's factor sets
    /// (`rope_factors_long`, `rope_factors_short`).
    static func ropeTensors(for config: ModelConfig) -> [GraphTensor] {
        func tensor(_ name: String, _ values: [Float]) -> GraphTensor {
            GraphTensor(name: name, shape: [values.count], dtype: .f32, expression: .values(values, rowCount: 1))
        }
        switch config.rope.scaling {
        case .llama3 where config.architecture.storesRopeFrequencies:
            return [tensor("rope_freqs.weight", config.rope.llama3Factors(dimensions: config.headDim))]
        case .longRoPE(let long):
            return [tensor("rope_factors_long.weight", long.longFactors.map { Float($0) }),
                    tensor("rope_factors_short.weight", long.shortFactors.map { Float($0) })]
        default:
            return []
        }
    }

    /// The keys convert_hf_to_gguf.py writes for the architecture, in its
    /// order, then the tokenizer's when the model folder has one, from the
    /// converter class the family goes through (`LlamaModel` or `Qwen2Model`).
    static func architectureMetadata(_ graph: ModelGraph, tokenizerPre: String?, withTokenizer: Bool = true, warnings: inout [WriteWarning]) throws -> Metadata<GGUFValue> {
        let directory = Paths.isDirectory(graph.sourcePath) ? graph.sourcePath : Paths.directory(of: graph.sourcePath)
        var metadata = graph.config.architecture.ggufMetadata(for: graph.config, name: Paths.lastComponent(of: directory))
        if withTokenizer, let tokenizer = try TokenizerGGUFMetadata(directory: directory, vocabularySize: graph.config.vocabSize,
                                                     model: graph.config.architecture.vocabulary, unknownHashName: tokenizerPre)
        {
            metadata.merge(tokenizer.keys)
            if tokenizerPre == nil, let hash = tokenizer.checkHash, !TokenizerGGUFMetadata.knownHashes.contains(where: { $0.hash == hash }),
                case .string(let name)? = tokenizer.keys["tokenizer.ggml.pre"]
            {
                warnings.append(.unknownPreTokenizer(hash: hash, writtenName: name))
            }
        }
        return metadata
    }
}
