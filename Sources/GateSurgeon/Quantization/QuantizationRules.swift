/// The model facts llama-quantize's per-tensor rules read (`llama_hparams`
/// of the model being quantized; in GGUF `<arch>.block_count`,
/// `<arch>.attention.head_count`, `<arch>.attention.head_count_kv`,
/// `<arch>.expert_count`).
public struct QuantizationModel: Sendable, Equatable {
    /// `general.architecture` ("llama", "qwen2", "qwen3", "qwen3moe", ...).
    public var architecture: String
    public var layerCount: Int
    public var headCount: Int
    public var headCountKV: Int
    /// 0 (or 1) for a dense model.
    public var expertCount: Int

    public init(architecture: String, layerCount: Int, headCount: Int, headCountKV: Int, expertCount: Int = 0) {
        self.architecture = architecture
        self.layerCount = layerCount
        self.headCount = headCount
        self.headCountKV = headCountKV
        self.expertCount = expertCount
    }

    /// `n_gqa()`: query heads per KV head (integer division), 0 without KV heads.
    public var groupedQueryFactor: Int { headCountKV > 0 ? headCount / headCountKV : 0 }

    /// llama.cpp's `LLM_TYPE_70B` (Llama, 80 layers, grouped KV heads), whose attn_v gets more bits.
    var isLlama70B: Bool { architecture == "llama" && layerCount == 80 && headCount != headCountKV }
}

/// One tensor as the rules see it: its GGUF name, its shape (outermost
/// first, a GGUF `ne` list reversed) and the type it is stored as.
public struct QuantizationTensor: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var storedType: DType

    public init(name: String, shape: [Int], storedType: DType) {
        self.name = name
        self.shape = shape
        self.storedType = storedType
    }

    /// `ne[0]`: the row length.
    var columns: Int { shape.last ?? 1 }

    /// `ggml_n_dims`: dimensions up to the last one longer than 1.
    var dimensionCount: Int {
        let ne = Array(shape.reversed())
        for i in stride(from: ne.count - 1, through: 1, by: -1) where ne[i] > 1 { return i + 1 }
        return 1
    }

    /// `ne[2]`: the expert count of a 3-D tensor, 1 otherwise.
    var experts: Int { shape.count >= 3 ? shape[shape.count - 3] : 1 }
}

/// A `--tensor-type PATTERN=TYPE` override of llama-quantize: tensors whose
/// name the pattern finds (a regular-expression search) get `type`; the
/// first matching override wins.
public struct TensorTypeOverride: Sendable, Equatable {
    /// The pattern, lower-cased as llama-quantize lower-cases it.
    public var pattern: String
    public var type: DType

    public init(pattern: String, type: DType) {
        self.pattern = pattern.lowercased()
        self.type = type
    }

    /// `PATTERN=TYPE` as llama-quantize parses it: split at the first `=`,
    /// the type a ggml type name in any case.
    public init(parsing text: String) throws(QuantizationRulesError) {
        guard let equals = text.firstIndex(of: "=") else { throw .malformedOverride(text) }
        let pattern = String(text[..<equals])
        let typeName = String(text[text.index(after: equals)...])
        guard !pattern.isEmpty, let type = DType(ggmlName: typeName) else { throw .malformedOverride(text) }
        self.init(pattern: pattern, type: type)
    }
}

extension DType {
    /// The ggml type named `name` in any case ("q4_k", "F16"), as
    /// llama-quantize's `parse_ggml_type` accepts it.
    public init?(ggmlName name: String) {
        guard let dtype = DType.allCases.first(where: { $0.ggmlTypeID != nil && $0.name.caseInsensitiveCompare(name) }) else {
            return nil
        }
        self = dtype
    }
}

extension String {
    fileprivate func caseInsensitiveCompare(_ other: String) -> Bool { lowercased() == other.lowercased() }
}

/// What llama-quantize's command line adds to a preset.
public struct QuantizationOptions: Sendable, Equatable {
    public var preset: QuantizationPreset
    /// Whether an importance matrix is given (some rules depend on it).
    public var hasImportance: Bool
    /// Every quantizable tensor gets the preset's default type (`--pure`).
    public var pure: Bool
    /// Allow re-quantizing tensors stored in block types (`--allow-requantize`).
    public var allowRequantize: Bool
    /// Quantize `output.weight` (false: `--leave-output-tensor`).
    public var quantizeOutput: Bool
    /// Type of `output.weight` (`--output-tensor-type`).
    public var outputType: DType?
    /// Type of the token embedding (`--token-embedding-type`).
    public var tokenEmbeddingType: DType?
    /// `--tensor-type` overrides, in order.
    public var overrides: [TensorTypeOverride]

    public init(
        preset: QuantizationPreset, hasImportance: Bool = false, pure: Bool = false, allowRequantize: Bool = false,
        quantizeOutput: Bool = true, outputType: DType? = nil, tokenEmbeddingType: DType? = nil,
        overrides: [TensorTypeOverride] = []
    ) {
        self.preset = preset
        self.hasImportance = hasImportance
        self.pure = pure
        self.allowRequantize = allowRequantize
        self.quantizeOutput = quantizeOutput
        self.outputType = outputType
        self.tokenEmbeddingType = tokenEmbeddingType
        self.overrides = overrides
    }
}

/// The type chosen for one tensor and why.
public struct TensorQuantizationChoice: Sendable, Equatable {
    public var type: DType
    /// A short reason for the plan ("attn_v: more bits in this layer").
    public var reason: String
    /// The tensor may be quantized at all (2-D or 3-D weights that are not
    /// norms, expert routers, position embeddings, ...).
    public var allowsQuantization: Bool
    /// llama-quantize refuses to write this tensor without an importance
    /// matrix (`tensor_requires_imatrix`: IQ1/IQ2 types and IQ3_XXS, and Q2_K
    /// in Q2_K_S, except for the token embedding and output).
    public var requiresImportance: Bool
    /// Set when the rows are not whole blocks of the rules' choice and
    /// llama.cpp's fallback was taken (`tensor_type_fallback`).
    public var fallback: QuantizationFallback?
}

/// Why the rules cannot choose.
public enum QuantizationRulesError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A tensor type override is not `PATTERN=TYPE` with a ggml type name.
    case malformedOverride(String)
    /// An override pattern is not a valid regular expression.
    case invalidPattern(String, reason: String)
    /// In a model with experts, a feed-forward tensor's name carries no `blk.N.` layer.
    case noLayer(tensor: String)
    /// The layer number of a tensor is not below the layer count.
    case layerOutOfRange(tensor: String, layer: Int, layerCount: Int)
    /// The tensor is stored in a block type and re-quantizing was not allowed.
    case requantizing(tensor: String, from: DType, to: DType)
    /// No smaller block type is defined for this type (`tensor_type_fallback`).
    case noFallback(tensor: String, type: DType, rowLength: Int)

    public var description: String {
        switch self {
        case .malformedOverride(let text): "tensor type override '\(text)' is not PATTERN=TYPE with a ggml type name"
        case .invalidPattern(let pattern, let reason): "tensor type pattern '\(pattern)' is not a valid regular expression: \(reason)"
        case .noLayer(let tensor): "tensor '\(tensor)': no blk.N. layer number in the name of an expert model's tensor"
        case .layerOutOfRange(let tensor, let layer, let count): "tensor '\(tensor)': layer \(layer) is not below the layer count \(count)"
        case .requantizing(let tensor, let from, let to):
            "tensor '\(tensor)' is stored as \(from); re-quantizing it to \(to) was not allowed"
        case .noFallback(let tensor, let type, let rowLength):
            "tensor '\(tensor)': rows of \(rowLength) are not whole \(type) blocks and no smaller type is defined"
        }
    }
}

/// llama-quantize's choice of a type for every tensor, ported from
/// src/llama-quant.cpp of the pinned llama.cpp (`llama_tensor_get_type`,
/// `llama_tensor_get_type_impl`, `tensor_allows_quantization`,
/// `tensor_get_category`, `tensor_type_fallback`, `tensor_requires_imatrix`).
///
/// The rules count tensors as llama-quantize walks them (by layer number,
/// then by name): attn_v-like tensors and ffn_down/gate/up get more bits in
/// the first and last eighths of the model and every third layer between
/// (`use_more_bits`); grouped-query attention (4 or more query heads per KV
/// head) and 8-expert models get more bits for attn_v/attn_k/attn_output;
/// output and tied embeddings get Q6_K (Q5_K for the IQ1/IQ2 presets, Q8_0
/// when rows are not 256-blocks).
public enum QuantizationRules {
    /// The choice for each of `tensors` (in the given order).
    /// - Complexity: O(n log n) in the tensor count (plus the override patterns' matching).
    public static func choose(
        for tensors: [QuantizationTensor], model: QuantizationModel, options: QuantizationOptions
    ) throws(QuantizationRulesError) -> [TensorQuantizationChoice] {
        try QuantizationInventory(tensors: tensors, model: model).choose(options: options)
    }

    /// The order llama-quantize walks tensors in (its `weights_map`): by the
    /// layer `blk.N.` names (-1 without one), then by name byte by byte.
    static func walkOrder(_ tensors: [QuantizationTensor]) -> [Int] {
        let keys = tensors.map { (layer: layerNumber($0.name) ?? -1, bytes: Array($0.name.utf8)) }
        return tensors.indices.sorted { a, b in
            if keys[a].layer != keys[b].layer { return keys[a].layer < keys[b].layer }
            return keys[a].bytes.lexicographicallyPrecedes(keys[b].bytes)
        }
    }

    /// `sscanf(name, "blk.%d.", &layer) == 1`: the number after `blk.`
    /// (optional blanks and sign, then digits), nil without one.
    static func layerNumber(_ name: String) -> Int? {
        var bytes = Array(name.utf8)[...]
        guard bytes.starts(with: Array("blk.".utf8)) else { return nil }
        bytes = bytes.dropFirst(4)
        while let first = bytes.first, first == 0x20 || (0x09...0x0D).contains(first) { bytes = bytes.dropFirst() }
        var negative = false
        if let first = bytes.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            bytes = bytes.dropFirst()
        }
        var value = 0
        var digits = 0
        while let first = bytes.first, (0x30...0x39).contains(first) {
            value = min(value * 10 + Int(first - 0x30), Int(Int32.max))
            digits += 1
            bytes = bytes.dropFirst()
        }
        guard digits > 0 else { return nil }
        return negative ? -value : value
    }

    /// A tensor name as bytes, for the substring tests of llama-quant.cpp
    /// (`std::string::find`), which compare bytes.
    struct ByteName: Equatable {
        let bytes: [UInt8]

        init(_ name: String) { bytes = Array(name.utf8) }

        /// Whether `part` occurs in the name.
        func contains(_ part: String) -> Bool { contains(Array(part.utf8)) }

        /// Whether the bytes `needle` occur in the name.
        func contains(_ needle: [UInt8]) -> Bool {
            guard !needle.isEmpty else { return true }
            guard needle.count <= bytes.count else { return false }
            let first = needle[0]
            var start = 0
            let last = bytes.count - needle.count
            while start <= last {
                if bytes[start] == first {
                    var k = 1
                    while k < needle.count && bytes[start + k] == needle[k] { k += 1 }
                    if k == needle.count { return true }
                }
                start += 1
            }
            return false
        }

        static func == (name: ByteName, text: String) -> Bool { name.bytes.elementsEqual(text.utf8) }
    }

    /// `tensor_get_category`.
    enum Category: Equatable {
        case tokenEmbedding, attentionQ, attentionV, attentionK, attentionQKV, attentionKVB, attentionOutput
        case ffnUp, ffnGate, ffnDown, output, other

        init(_ name: String) { self.init(ByteName(name)) }

        init(_ name: ByteName) {
            if name == "output.weight" {
                self = .output
            } else if name == "token_embd.weight" || name == "per_layer_token_embd.weight" {
                self = .tokenEmbedding
            } else if name.contains("attn_qkv.weight") {
                self = .attentionQKV
            } else if name.contains("attn_kv_b.weight") {
                self = .attentionKVB
            } else if name.contains("attn_v.weight") {
                self = .attentionV
            } else if name.contains("attn_k.weight") {
                self = .attentionK
            } else if name.contains("attn_q.weight") {
                self = .attentionQ
            } else if name.contains("attn_output.weight") {
                self = .attentionOutput
            } else if name.contains("ffn_up") {
                self = .ffnUp
            } else if name.contains("ffn_gate") {
                self = .ffnGate
            } else if name.contains("ffn_down") {
                self = .ffnDown
            } else {
                self = .other
            }
        }

        /// `category_is_attn_v`: attn_v and the fused projections that hold it.
        var isAttentionV: Bool { self == .attentionV || self == .attentionQKV || self == .attentionKVB }
    }

    /// `tensor_allows_quantization`, with the reason when it does not (the
    /// output tensor is refused by the caller when it is to be left as stored).
    static func refusal(_ tensor: QuantizationTensor, _ name: ByteName, architecture: String) -> String? {
        if tensor.dimensionCount < 2 { return "1-D" }
        if !tensor.name.hasSuffix("weight") { return "not a weight" }
        if name.contains("_norm.weight") { return "a norm" }
        if name.contains("ffn_gate_inp.weight") { return "an expert router" }
        if name.contains("ffn_gate_tid2eid.weight") { return "a routing table" }
        if name == "position_embd.weight" || name == "token_types.weight" { return "a position or token-type embedding" }
        if architecture == "glm5-next" {
            for part in ["hc_", "indexer.attn_q_b", "indexer.attn_k", "indexer.proj", "indexer_compressor_gate",
                         "indexer_compressor_ape", "ssm_f_a.weight", "ssm_f_b.weight", "ssm_g_a.weight", "ssm_g_b.weight",
                         "ssm_beta.weight", "attn_kv_a_mqa.weight", "attn_k_b.weight", "attn_v_b.weight"]
            where name.contains(part) {
                return "kept by llama.cpp for this architecture"
            }
        }
        if keptParts.contains(where: { name.contains($0) })
            || (name.contains(Array("time_mix_".utf8)) && keptTimeMix.contains(where: { name.contains($0) }))
            || (name.contains(Array("sam.".utf8)) && keptSAM.contains(where: { name.contains($0) })) {
            return "small or special tensor llama.cpp keeps"
        }
        return nil
    }

    /// The other names `tensor_allows_quantization` keeps as stored (RWKV's
    /// time-mix weights and SAM's parts are tested once their common part is found).
    static let keptParts: [[UInt8]] = [
        "altup", "laurel", "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight",
        "indexer.q_proj.weight", "attn_rel_b.weight", ".position_embd", ".rel_pos", ".patch_embd", ".patch_merger",
        "a.rvq.codebook", "mm.a.code_embd",
    ].map { Array($0.utf8) }
    static let keptTimeMix: [[UInt8]] = [
        "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight", "time_mix_v0.weight",
        "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight", "time_mix_a1.weight", "time_mix_a2.weight",
        "time_mix_g1.weight", "time_mix_g2.weight", "time_mix_decay_w1.weight", "time_mix_decay_w2.weight",
        "time_mix_lerp_fused.weight",
    ].map { Array($0.utf8) }
    static let keptSAM: [[UInt8]] = ["sam.pos_embd", "sam.neck.", "sam.net_"].map { Array($0.utf8) }

    /// `tensor_requires_imatrix`.
    static func requiresImportance(_ name: String, _ type: DType, _ preset: QuantizationPreset) -> Bool {
        if name == "token_embd.weight" || name == "per_layer_token_embd.weight" || name == "output.weight" { return false }
        switch type {
        case .iq3_XXS, .iq2_XXS, .iq2_XS, .iq2_S, .iq1_M, .iq1_S: return true
        case .q2_K: return preset == .q2_K_S
        default: return false
        }
    }

    /// `use_more_bits`: the first and last eighths of the layers, and every
    /// third layer between them.
    static func useMoreBits(_ layer: Int, _ count: Int) -> Bool {
        layer < count / 8 || layer >= 7 * count / 8 || (layer - count / 8) % 3 == 2
    }

    /// The counters of `quantize_state_impl` and the choice of one tensor.
    struct State {
        let model: QuantizationModel
        let options: QuantizationOptions
        var attentionVCount = 0
        var attentionVIndex = 0
        var ffnDownCount = 0
        var ffnGateCount = 0
        var ffnUpCount = 0
        var ffnDownIndex = 0
        var ffnGateIndex = 0
        var ffnUpIndex = 0
        var tiedEmbeddings = true

        init(model: QuantizationModel, options: QuantizationOptions) {
            self.model = model
            self.options = options
        }

        /// `llama_tensor_get_type` and the checks of the main loop.
        mutating func choose(
            _ tensor: QuantizationTensor, _ facts: TensorFacts, patterns: [(Regex<AnyRegexOutput>, TensorTypeOverride)]
        ) throws(QuantizationRulesError) -> TensorQuantizationChoice {
            let preset = options.preset
            let refused = facts.refusal ?? (!options.quantizeOutput && facts.category == .output ? "output tensor left as stored" : nil)
            if let refusal = refused {
                return TensorQuantizationChoice(
                    type: tensor.storedType, reason: "not quantized: \(refusal)", allowsQuantization: false,
                    requiresImportance: false, fallback: nil)
            }
            let category = facts.category
            var type: DType
            var reason: String
            var fallback: QuantizationFallback?
            if let embedding = options.tokenEmbeddingType, category == .tokenEmbedding,
                !(tensor.name == "per_layer_token_embd.weight" && patterns.contains { tensor.name.contains($0.0) }) {
                type = embedding
                reason = "token embedding type"
            } else if let output = options.outputType, category == .output {
                type = output
                reason = "output type"
            } else {
                type = preset.defaultType
                reason = "\(preset.name) default"
                var manual = false
                if let match = patterns.first(where: { tensor.name.contains($0.0) }) {
                    type = match.1.type
                    reason = "override '\(match.1.pattern)'"
                    manual = true
                }
                if !manual && !options.pure {
                    if let rule = try rule(tensor, category, facts.layer, type) {
                        type = rule.type
                        reason = rule.reason
                    }
                } else if options.pure && !manual {
                    reason = "\(preset.name) default (pure)"
                }
            }
            // llama-quantize gives an explicit output or embedding type no fallback and
            // aborts on rows that are not whole blocks of it; the same fallback as a
            // preset's type writes a file instead (nothing to be byte-identical with).
            fallback = QuantizationFallback(for: type, rowLength: tensor.columns)
            if let chosen = fallback {
                guard let fitting = chosen.type else {
                    throw .noFallback(tensor: tensor.name, type: type, rowLength: tensor.columns)
                }
                type = fitting
            }
            if type != tensor.storedType && tensor.storedType.isQuantized && !options.allowRequantize {
                throw .requantizing(tensor: tensor.name, from: tensor.storedType, to: type)
            }
            return TensorQuantizationChoice(
                type: type, reason: fallback.map { "\(reason); \($0.note)" } ?? reason, allowsQuantization: true,
                requiresImportance: requiresImportance(tensor.name, type, preset), fallback: fallback)
        }

        /// `layer_info`: the counter's layer, or in an expert model the
        /// layer in the name.
        func layer(_ counter: Int, _ count: Int, _ name: String, _ nameLayer: Int?) throws(QuantizationRulesError) -> Int {
            guard max(1, model.expertCount) > 1 else { return counter }
            guard let layer = nameLayer else { throw .noLayer(tensor: name) }
            guard layer >= 0 && layer < count else { throw .layerOutOfRange(tensor: name, layer: layer, layerCount: count) }
            return layer
        }

        /// `llama_tensor_get_type_impl`: nil keeps `current`.
        mutating func rule(
            _ tensor: QuantizationTensor, _ category: Category, _ nameLayer: Int?, _ current: DType
        ) throws(QuantizationRulesError) -> (type: DType, reason: String)? {
            let preset = options.preset
            let gqa = model.groupedQueryFactor
            let experts = model.expertCount
            let falcon = model.architecture == "falcon"
            let name = tensor.name
            var type = current
            var reason = ""
            func set(_ newType: DType, _ why: String) {
                type = newType
                reason = why
            }
            let lowBitIQ: Set<QuantizationPreset> = [.iq2_XXS, .iq2_XS, .iq1_S, .iq2_S, .iq2_M, .iq1_M]
            if model.architecture == "glm5-next"
                && (name.contains("attn_q_a") || name.contains("attn_q_b") || name.contains("nextn.eh_proj")) {
                switch current {
                case .f32, .bf16, .f16: break
                default: return (.q8_0, "kept at Q8_0 or more for this architecture")
                }
            }
            if category == .output || (tiedEmbeddings && category == .tokenEmbedding) {
                let what = category == .output ? "output" : "tied token embedding"
                if let output = options.outputType {
                    set(output, "\(what): output type")
                } else if preset == .mxfp4MoE {
                    set(.q8_0, "\(what): Q8_0 in MXFP4_MOE")
                } else if falcon || tensor.columns % current.blockSize != 0 {
                    set(.q8_0, "\(what): Q8_0 (rows are not whole \(current) blocks)")
                } else if [.iq2_XXS, .iq2_XS, .iq3_XXS, .iq1_S, .iq2_S, .iq2_M, .iq1_M].contains(preset) {
                    set(.q5_K, "\(what): Q5_K in the IQ1/IQ2/IQ3_XXS presets")
                } else if current != .q8_0 {
                    set(.q6_K, "\(what): Q6_K")
                }
            } else if preset == .mxfp4MoE {
                if tensor.experts > 1 {
                    set(.mxfp4, "expert tensor: MXFP4")
                } else {
                    set(.q8_0, "not an expert tensor: Q8_0 in MXFP4_MOE")
                }
            } else if category == .tokenEmbedding {
                if let embedding = options.tokenEmbeddingType {
                    set(embedding, "token embedding type")
                } else if [.iq2_XXS, .iq2_XS, .iq1_S, .iq1_M].contains(preset) {
                    set(.q2_K, "token embedding: Q2_K in \(preset.name)")
                } else if [.iq2_S, .iq2_M, .iq3_XXS].contains(preset) {
                    set(.iq3_S, "token embedding: IQ3_S in \(preset.name)")
                } else if [.tq1_0, .tq2_0].contains(preset) {
                    set(.q4_K, "token embedding: Q4_K in \(preset.name)")
                }
            } else if lowBitIQ.contains(preset) {
                let wideIQ = preset == .iq2_S || preset == .iq2_M
                if category.isAttentionV {
                    if gqa >= 4 || experts >= 4 {
                        set(.q4_K, "attn_v: Q4_K with 4+ query heads per KV head or 4+ experts")
                    } else {
                        set(wideIQ ? .iq3_S : .q2_K, "attn_v: \(wideIQ ? "IQ3_S" : "Q2_K") in \(preset.name)")
                    }
                    attentionVIndex += 1
                } else if experts == 8 && category == .attentionK {
                    set(.q4_K, "attn_k: Q4_K with 8 experts")
                } else if category == .ffnDown {
                    if ffnDownIndex < ffnDownCount / 8 {
                        set(wideIQ ? .iq3_S : .q2_K, "ffn_down: \(wideIQ ? "IQ3_S" : "Q2_K") in the first eighth of the layers")
                    }
                    ffnDownIndex += 1
                } else if category == .attentionOutput {
                    if experts == 8 {
                        set(.q5_K, "attn_output: Q5_K with 8 experts")
                    } else if preset == .iq1_S || preset == .iq1_M {
                        set(.iq2_XXS, "attn_output: IQ2_XXS in \(preset.name)")
                    } else if wideIQ {
                        set(.iq3_S, "attn_output: IQ3_S in \(preset.name)")
                    }
                }
            } else if category.isAttentionV {
                switch preset {
                case .q2_K: set(gqa >= 4 ? .q4_K : .q3_K, "attn_v: \(gqa >= 4 ? "Q4_K with 4+ query heads per KV head" : "Q3_K")")
                case .q2_K_S where gqa >= 4: set(.q4_K, "attn_v: Q4_K with 4+ query heads per KV head")
                case .iq3_XXS:
                    if gqa >= 4 {
                        set(.q4_K, "attn_v: Q4_K with 4+ query heads per KV head")
                    } else {
                        set(options.hasImportance ? .iq3_XXS : .iq3_S, "attn_v: \(options.hasImportance ? "IQ3_XXS with" : "IQ3_S without") an importance matrix")
                    }
                case .iq3_XS where gqa >= 4, .iq3_S where gqa >= 4:
                    set(.q4_K, "attn_v: Q4_K with 4+ query heads per KV head")
                case .iq3_M: set(.q4_K, "attn_v: Q4_K in IQ3_M")
                case .q3_K_M: set(attentionVIndex < 2 ? .q5_K : .q4_K, "attn_v: \(attentionVIndex < 2 ? "Q5_K in the first two" : "Q4_K")")
                case .q3_K_L: set(.q5_K, "attn_v: Q5_K in Q3_K_L")
                case .iq4_NL where gqa >= 4, .iq4_XS where gqa >= 4:
                    set(.q5_K, "attn_v: Q5_K with 4+ query heads per KV head")
                case .q4_K_M where useMoreBits(attentionVIndex, attentionVCount),
                    .q5_K_M where useMoreBits(attentionVIndex, attentionVCount):
                    set(.q6_K, "attn_v: Q6_K in a layer that gets more bits")
                case .q4_K_S where attentionVIndex < 4: set(.q5_K, "attn_v: Q5_K in the first four")
                default: break
                }
                if model.isLlama70B && (type == .q3_K || type == .q4_K) { set(.q5_K, "attn_v: Q5_K in a 70B Llama") }
                if experts == 8 { set(.q8_0, "attn_v: Q8_0 with 8 experts") }
                attentionVIndex += 1
            } else if category == .attentionK {
                if experts == 8 {
                    set(.q8_0, "attn_k: Q8_0 with 8 experts")
                } else if preset == .iq3_XS {
                    set(.iq3_XXS, "attn_k: IQ3_XXS in IQ3_XS")
                } else if preset == .iq3_XXS {
                    set(.iq2_S, "attn_k: IQ2_S in IQ3_XXS")
                }
            } else if category == .attentionQ {
                if preset == .iq3_XS {
                    set(.iq3_XXS, "attn_q: IQ3_XXS in IQ3_XS")
                } else if preset == .iq3_XXS {
                    set(.iq2_S, "attn_q: IQ2_S in IQ3_XXS")
                }
            } else if category == .ffnDown {
                let layer = try layer(ffnDownIndex, ffnDownCount, name, nameLayer)
                let count = ffnDownCount
                switch preset {
                case .q2_K: set(.q3_K, "ffn_down: Q3_K in Q2_K")
                case .q2_K_S: if layer < count / 8 { set(.q4_K, "ffn_down: Q4_K in the first eighth of the layers") }
                case .iq3_XXS where !options.hasImportance:
                    set(layer < count / 8 ? .q4_K : .q3_K, "ffn_down: \(layer < count / 8 ? "Q4_K in the first eighth" : "Q3_K") without an importance matrix")
                case .q3_K_M:
                    if layer < count / 16 {
                        set(.q5_K, "ffn_down: Q5_K in the first sixteenth of the layers")
                    } else if !falcon || useMoreBits(layer, count) {
                        set(.q4_K, "ffn_down: Q4_K in Q3_K_M")
                    } else {
                        set(.q3_K, "ffn_down: Q3_K")
                    }
                case .iq3_M where layer < count / 8 || (experts == 8 && useMoreBits(layer, count)):
                    set(.q4_K, "ffn_down: Q4_K in a layer that gets more bits")
                case .q3_K_L: set(falcon ? .q4_K : .q5_K, "ffn_down: \(falcon ? "Q4_K" : "Q5_K") in Q3_K_L")
                case .q4_K_M:
                    if falcon {
                        set(layer < count / 16 ? .q6_K : useMoreBits(layer, count) ? .q5_K : .q4_K, "ffn_down: Falcon rule of Q4_K_M")
                    } else if useMoreBits(layer, count) {
                        set(.q6_K, "ffn_down: Q6_K in a layer that gets more bits")
                    }
                case .iq4_NL where layer < count / 8 && !options.hasImportance,
                    .iq4_XS where layer < count / 8 && !options.hasImportance:
                    set(.q5_K, "ffn_down: Q5_K in the first eighth without an importance matrix")
                case .q5_K_M where useMoreBits(layer, count): set(.q6_K, "ffn_down: Q6_K in a layer that gets more bits")
                case .q4_K_S where !falcon && layer < count / 8: set(.q5_K, "ffn_down: Q5_K in the first eighth of the layers")
                case .q4_0 where options.hasImportance && layer < count / 8:
                    set(.q4_1, "ffn_down: Q4_1 in the first eighth with an importance matrix")
                case .q5_0 where options.hasImportance && layer < count / 8:
                    set(.q5_1, "ffn_down: Q5_1 in the first eighth with an importance matrix")
                default: break
                }
                ffnDownIndex += 1
            } else if category == .attentionOutput {
                if !falcon {
                    if experts == 8 {
                        if [.q2_K, .iq3_XS, .iq3_XXS, .q3_K_S, .q3_K_M, .iq4_NL, .q4_K_S, .q4_K_M, .iq3_S, .iq3_M, .iq4_XS]
                            .contains(preset) {
                            set(.q5_K, "attn_output: Q5_K with 8 experts")
                        }
                    } else {
                        switch preset {
                        case .q2_K: set(.q3_K, "attn_output: Q3_K in Q2_K")
                        case .iq3_XXS: set(.iq3_S, "attn_output: IQ3_S in IQ3_XXS")
                        case .q3_K_M: set(.q4_K, "attn_output: Q4_K in Q3_K_M")
                        case .q3_K_L: set(.q5_K, "attn_output: Q5_K in Q3_K_L")
                        case .iq3_M: set(.q4_K, "attn_output: Q4_K in IQ3_M")
                        default: break
                        }
                    }
                } else if preset == .q3_K_L {
                    set(.q4_K, "attn_output: Falcon rule of Q3_K_L")
                }
            } else if category == .attentionQKV {
                switch preset {
                case .q3_K_M, .q3_K_L, .iq3_M: set(.q4_K, "attn_qkv: Q4_K in \(preset.name)")
                case .q4_K_M: set(.q5_K, "attn_qkv: Q5_K in Q4_K_M")
                case .q5_K_M: set(.q6_K, "attn_qkv: Q6_K in Q5_K_M")
                default: break
                }
            } else if category == .ffnGate {
                let layer = try layer(ffnGateIndex, ffnGateCount, name, nameLayer)
                if preset == .iq3_XS && layer >= ffnGateCount / 8 && layer < 7 * ffnGateCount / 8 {
                    set(.iq3_XXS, "ffn_gate: IQ3_XXS in the middle layers")
                }
                ffnGateIndex += 1
            } else if category == .ffnUp {
                let layer = try layer(ffnUpIndex, ffnUpCount, name, nameLayer)
                if preset == .iq3_XS && layer >= ffnUpCount / 8 && layer < 7 * ffnUpCount / 8 {
                    set(.iq3_XXS, "ffn_up: IQ3_XXS in the middle layers")
                }
                ffnUpIndex += 1
            }
            return reason.isEmpty ? nil : (type, reason)
        }
    }
}

extension QuantizationModel {
    /// The facts the rules read from a GGUF file's metadata, as llama.cpp
    /// loads them (`head_count_kv` defaults to `head_count`, a per-layer
    /// array gives its first layer's value); nil without an architecture,
    /// block count or head count.
    public init?(gguf: GGUFFile) {
        guard let architecture = gguf.architecture else { return nil }
        func number(_ key: String) -> Int? {
            switch gguf.value("\(architecture).\(key)") {
            case .array(_, let values)?: values.first?.intValue
            case let value?: value.intValue
            case nil: nil
            }
        }
        guard let layers = number("block_count"), let heads = number("attention.head_count") else { return nil }
        self.init(
            architecture: architecture, layerCount: layers, headCount: heads,
            headCountKV: number("attention.head_count_kv") ?? heads, expertCount: number("expert_count") ?? 0)
    }
}

/// A model's tensors prepared for the rules: each one's category, layer and
/// whether it may be quantized at all, and the order llama-quantize walks
/// them in. One inventory answers for any number of option sets.
public struct QuantizationInventory: Sendable {
    public let tensors: [QuantizationTensor]
    public let model: QuantizationModel
    let facts: [QuantizationRules.TensorFacts]
    let order: [Int]

    /// - Complexity: O(n log n) in the tensor count.
    public init(tensors: [QuantizationTensor], model: QuantizationModel) {
        self.tensors = tensors
        self.model = model
        facts = tensors.map { tensor in
            let name = QuantizationRules.ByteName(tensor.name)
            return QuantizationRules.TensorFacts(
                category: QuantizationRules.Category(name),
                refusal: QuantizationRules.refusal(tensor, name, architecture: model.architecture),
                layer: QuantizationRules.layerNumber(tensor.name))
        }
        order = QuantizationRules.walkOrder(tensors)
    }

    /// The choice for each tensor (in the inventory's order) under `options`.
    /// - Complexity: O(n) in the tensor count (plus the override patterns' matching).
    public func choose(options: QuantizationOptions) throws(QuantizationRulesError) -> [TensorQuantizationChoice] {
        var patterns: [(Regex<AnyRegexOutput>, TensorTypeOverride)] = []
        for override in options.overrides {
            do {
                patterns.append((try Regex(override.pattern), override))
            } catch {
                throw .invalidPattern(override.pattern, reason: "\(error)")
            }
        }
        var state = QuantizationRules.State(model: model, options: options)
        for fact in facts {
            if fact.category.isAttentionV { state.attentionVCount += 1 }
            if fact.category == .output { state.tiedEmbeddings = false }
        }
        state.ffnDownCount = model.layerCount
        state.ffnGateCount = model.layerCount
        state.ffnUpCount = model.layerCount
        var choices = [TensorQuantizationChoice?](repeating: nil, count: tensors.count)
        for index in order {
            choices[index] = try state.choose(tensors[index], facts[index], patterns: patterns)
        }
        return choices.map { $0! }
    }
}

extension QuantizationRules {
    /// What the rules need of a tensor regardless of the options.
    struct TensorFacts: Sendable {
        let category: Category
        let refusal: String?
        let layer: Int?
    }
}
