/// Tensor names in the two conventions: transformers
/// (`model.layers.3.self_attn.q_proj.weight`) and llama.cpp's GGUF
/// (`blk.3.attn_q.weight`).
extension Architecture {
    public static let transformersLayerPrefix = "model.layers."
    public static let ggufLayerPrefix = "blk."

    /// Whole-model tensors: (transformers, GGUF).
    static let globalNames: [(String, String)] = [
        ("model.embed_tokens.weight", "token_embd.weight"),
        ("model.norm.weight", "output_norm.weight"),
        ("lm_head.weight", "output.weight"),
    ]

    /// Per-layer tensors: transformers suffix after `model.layers.N.`, GGUF
    /// suffix after `blk.N.`. The two separate-gate names share one GGUF
    /// name; the tensor's shape tells them apart. Experts are not listed:
    /// transformers stores one tensor per expert, GGUF one stacked tensor
    /// per part (`expertTensorName`, `ggufExpertName`).
    var layerNames: [(String, String)] {
        var names: [(String, String)] = [
            ("input_layernorm.weight", "attn_norm.weight"),
            ("self_attn.q_proj.weight", "attn_q.weight"),
            ("self_attn.q_proj.bias", "attn_q.bias"),
            ("self_attn.k_proj.weight", "attn_k.weight"),
            ("self_attn.k_proj.bias", "attn_k.bias"),
            ("self_attn.v_proj.weight", "attn_v.weight"),
            ("self_attn.v_proj.bias", "attn_v.bias"),
            ("self_attn.o_proj.weight", "attn_output.weight"),
            ("self_attn.o_proj.bias", "attn_output.bias"),
            ("self_attn.q_norm.weight", "attn_q_norm.weight"),
            ("self_attn.k_norm.weight", "attn_k_norm.weight"),
            ("self_attn.gate_proj.weight", "attn_gate.weight"),
            ("self_attn.g_proj.weight", "attn_gate.weight"),
            ("post_attention_layernorm.weight", ggufFeedForwardNormName),
        ]
        switch feedForward {
        case .dense:
            names += [
                ("mlp.gate_proj.weight", "ffn_gate.weight"),
                ("mlp.up_proj.weight", "ffn_up.weight"),
                ("mlp.down_proj.weight", "ffn_down.weight"),
            ]
        case .mixtureOfExperts(let experts):
            names.append((experts.router, "ffn_gate_inp.weight"))
            if experts.hasSharedExpert {
                names += [
                    ("mlp.shared_expert.gate_proj.weight", "ffn_gate_shexp.weight"),
                    ("mlp.shared_expert.up_proj.weight", "ffn_up_shexp.weight"),
                    ("mlp.shared_expert.down_proj.weight", "ffn_down_shexp.weight"),
                    ("mlp.shared_expert_gate.weight", "ffn_gate_inp_shexp.weight"),
                ]
            }
        }
        return names
    }

    /// One of the three matrices of a SwiGLU MLP or expert.
    public enum ExpertPart: Sendable, CaseIterable {
        case gate, up, down

        /// llama.cpp's stacked tensor of this part for every expert of a layer.
        var ggufStackedSuffix: String {
            switch self {
            case .gate: "ffn_gate_exps.weight"
            case .up: "ffn_up_exps.weight"
            case .down: "ffn_down_exps.weight"
            }
        }
    }

    /// The transformers name of expert `expert`'s `part` in layer `layer`.
    func expertTensorName(layer: Int, expert: Int, part: ExpertPart) -> String? {
        guard case .mixtureOfExperts(let experts) = feedForward else { return nil }
        let suffix = switch part {
        case .gate: experts.expertParts.gate
        case .up: experts.expertParts.up
        case .down: experts.expertParts.down
        }
        return "\(Self.transformersLayerPrefix)\(layer).\(experts.expertPrefix)\(expert).\(suffix)"
    }

    /// llama.cpp's name of the stacked `part` of layer `layer`'s experts.
    func ggufExpertName(layer: Int, part: ExpertPart) -> String {
        "\(Self.ggufLayerPrefix)\(layer).\(part.ggufStackedSuffix)"
    }

    /// (layer, expert, part) of a transformers expert tensor name.
    func expertComponents(of name: String) -> (layer: Int, expert: Int, part: ExpertPart)? {
        guard case .mixtureOfExperts(let experts) = feedForward,
            let (layer, suffix) = Self.splitLayer(name, prefix: Self.transformersLayerPrefix), suffix.hasPrefix(experts.expertPrefix)
        else { return nil }
        let rest = suffix.dropFirst(experts.expertPrefix.count)
        guard let dot = rest.firstIndex(of: "."), let expert = Int(rest[..<dot]), expert >= 0 else { return nil }
        let partName = rest[rest.index(after: dot)...]
        let part: ExpertPart
        if partName == experts.expertParts.gate { part = .gate } else if partName == experts.expertParts.up { part = .up } else if partName == experts.expertParts.down { part = .down } else { return nil }
        return (layer, expert, part)
    }

    /// (layer, part) of a GGUF stacked expert tensor name.
    func stackedExpertComponents(of ggufName: String) -> (layer: Int, part: ExpertPart)? {
        guard let (layer, suffix) = Self.splitLayer(ggufName, prefix: Self.ggufLayerPrefix),
            let part = ExpertPart.allCases.first(where: { $0.ggufStackedSuffix == suffix })
        else { return nil }
        return (layer, part)
    }

    /// The GGUF name of a transformers tensor name, or nil when llama.cpp has none.
    public func ggufName(forTransformers name: String) -> String? {
        if let global = Self.globalNames.first(where: { $0.0 == name }) { return global.1 }
        guard let (layer, suffix) = Self.splitLayer(name, prefix: Self.transformersLayerPrefix),
            let pair = layerNames.first(where: { $0.0 == suffix })
        else { return nil }
        return "\(Self.ggufLayerPrefix)\(layer).\(pair.1)"
    }

    /// The transformers name of a GGUF tensor name; `headwiseGate` picks
    /// `g_proj` for `attn_gate` (its shape tells which).
    public func transformersName(forGGUF name: String, headwiseGate: Bool = false) -> String? {
        if let global = Self.globalNames.first(where: { $0.1 == name }) { return global.0 }
        guard let (layer, suffix) = Self.splitLayer(name, prefix: Self.ggufLayerPrefix) else { return nil }
        let prefix = "\(Self.transformersLayerPrefix)\(layer)."
        if suffix == "attn_gate.weight" { return prefix + (headwiseGate ? "self_attn.g_proj.weight" : "self_attn.gate_proj.weight") }
        // Either name of the feed-forward norm reads back (converters differ by architecture and version).
        if suffix == "post_attention_norm.weight" || suffix == "ffn_norm.weight" { return prefix + "post_attention_layernorm.weight" }
        guard let pair = layerNames.first(where: { $0.1 == suffix }) else { return nil }
        return prefix + pair.0
    }

    /// Whether `name` (transformers convention) is an RMSNorm weight.
    static func isNorm(_ name: String) -> Bool {
        name == "model.norm.weight" || name.hasSuffix("_layernorm.weight") || name.hasSuffix("self_attn.q_norm.weight")
            || name.hasSuffix("self_attn.k_norm.weight")
    }

    /// Splits `prefix` + `N.` + suffix into (N, suffix).
    public static func splitLayer(_ name: String, prefix: String) -> (Int, String)? {
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]), layer >= 0 else { return nil }
        return (layer, String(rest[rest.index(after: dot)...]))
    }
}
