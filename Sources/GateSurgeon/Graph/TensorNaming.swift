/// Tensor names in the two conventions: transformers (`model.layers.3.self_attn.q_proj.weight`)
/// and llama.cpp's GGUF (`blk.3.attn_q.weight`).
public enum TensorNaming {
    /// Per-layer names: transformers suffix after `model.layers.N.`, GGUF suffix after `blk.N.`.
    static let layerPairs: [(String, String)] = [
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

    static let globalPairs: [(String, String)] = [
        ("model.embed_tokens.weight", "token_embd.weight"),
        ("model.norm.weight", "output_norm.weight"),
        ("lm_head.weight", "output.weight"),
    ]

    /// The GGUF name for a transformers name, or nil when llama.cpp has none.
    public static func ggufName(forTransformers name: String) -> String? {
        if let global = globalPairs.first(where: { $0.0 == name }) { return global.1 }
        guard let (layer, suffix) = splitLayer(name, prefix: "model.layers.") else { return nil }
        guard let pair = layerPairs.first(where: { $0.0 == suffix }) else { return nil }
        return "blk.\(layer).\(pair.1)"
    }

    /// The transformers name for a GGUF name; `headwiseGate` picks `g_proj`
    /// for `attn_gate` (its shape tells which).
    public static func transformersName(forGGUF name: String, headwiseGate: Bool = false) -> String? {
        if let global = globalPairs.first(where: { $0.1 == name }) { return global.0 }
        guard let (layer, suffix) = splitLayer(name, prefix: "blk.") else { return nil }
        if suffix == "attn_gate.weight" {
            return "model.layers.\(layer).self_attn.\(headwiseGate ? "g_proj" : "gate_proj").weight"
        }
        if suffix == "post_attention_norm.weight" { return "model.layers.\(layer).post_attention_layernorm.weight" }
        guard let pair = layerPairs.first(where: { $0.1 == suffix }) else { return nil }
        return "model.layers.\(layer).\(pair.0)"
    }

    /// Splits `prefix` + `N.` + suffix into (N, suffix).
    public static func splitLayer(_ name: String, prefix: String) -> (Int, String)? {
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]), layer >= 0 else { return nil }
        return (layer, String(rest[rest.index(after: dot)...]))
    }

    /// The row order llama.cpp's converter gives Llama q_proj/k_proj:
    /// `result[ggufRow] = transformersRow`. Within each head, the rotate-half
    /// layout (first half, second half) becomes interleaved pairs.
    public static func ropeRowPermutation(rows: Int, heads: Int) -> [Int] {
        let headRows = rows / heads
        let half = headRows / 2
        var result = [Int](repeating: 0, count: rows)
        for head in 0..<heads {
            for pair in 0..<half {
                for side in 0..<2 {
                    result[head * headRows + pair * 2 + side] = head * headRows + side * half + pair
                }
            }
        }
        return result
    }

    /// The inverse of `ropeRowPermutation`: `result[transformersRow] = ggufRow`.
    public static func inverseRopeRowPermutation(rows: Int, heads: Int) -> [Int] {
        let forward = ropeRowPermutation(rows: rows, heads: heads)
        var inverse = [Int](repeating: 0, count: rows)
        for (ggufRow, transformersRow) in forward.enumerated() { inverse[transformersRow] = ggufRow }
        return inverse
    }
}
