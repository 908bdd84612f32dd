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
    /// name; the tensor's shape tells them apart.
    var layerNames: [(String, String)] {
        [
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
            ("post_attention_layernorm.weight", "ffn_norm.weight"),
            ("mlp.gate_proj.weight", "ffn_gate.weight"),
            ("mlp.up_proj.weight", "ffn_up.weight"),
            ("mlp.down_proj.weight", "ffn_down.weight"),
        ]
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
        // Older converters named the MLP norm this way.
        if suffix == "post_attention_norm.weight" { return prefix + "post_attention_layernorm.weight" }
        guard let pair = layerNames.first(where: { $0.1 == suffix }) else { return nil }
        return prefix + pair.0
    }

    /// Whether `name` (either convention) is an RMSNorm weight.
    static func isNorm(_ name: String) -> Bool {
        name.hasSuffix("layernorm.weight") || name.hasSuffix("_norm.weight") || name == "model.norm.weight" || name.hasSuffix("norm.weight")
    }

    /// Splits `prefix` + `N.` + suffix into (N, suffix).
    public static func splitLayer(_ name: String, prefix: String) -> (Int, String)? {
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]), layer >= 0 else { return nil }
        return (layer, String(rest[rest.index(after: dot)...]))
    }
}
