/// Tensor names in the two conventions: transformers
/// (`model.layers.3.self_attn.q_proj.weight`) and llama.cpp's GGUF
/// (`blk.3.attn_q.weight`), from the family's `LayerSpec`.
extension Architecture {
    public static let transformersLayerPrefix = "model.layers."
    public static let ggufLayerPrefix = "blk."

    /// Whole-model tensors: (transformers, GGUF).
    static let globalNames: [(String, String)] = [
        ("model.embed_tokens.weight", "token_embd.weight"),
        ("model.norm.weight", "output_norm.weight"),
        ("lm_head.weight", "output.weight"),
    ]

    /// The transformers name of `role` in layer `layer`.
    public func transformersName(_ role: LayerRole, layer: Int) -> String {
        "\(Self.transformersLayerPrefix)\(layer).\(self.layer.transformersName(role))"
    }

    /// llama.cpp's name of `role` in layer `layer`.
    public func ggufName(_ role: LayerRole, layer: Int) -> String {
        "\(Self.ggufLayerPrefix)\(layer).\(self.layer.ggufName(role))"
    }

    /// The roles this family's layers can have: its norms, projections and MLP.
    var layerRoles: [LayerRole] {
        let norms = layer.norms.roles
        return LayerRole.allCases.filter { role in
            switch role {
            case .attentionNorm, .attentionOutputNorm, .feedForwardNorm, .feedForwardOutputNorm: return norms.contains(role)
            case .queryKeyValue: return layer.fusedQueryKeyValue
            case .query, .queryBias, .key, .keyBias, .value, .valueBias: return !layer.fusedQueryKeyValue
            case .feedForwardGate, .feedForwardUp: return !isMixtureOfExperts && !layer.fusedGateUp
            case .feedForwardGateUp: return !isMixtureOfExperts && layer.fusedGateUp
            case .feedForwardDown: return !isMixtureOfExperts
            case .output, .outputBias, .queryNorm, .keyNorm, .gate, .headwiseGate: return true
            }
        }
    }

    /// The role whose transformers name within a layer is `suffix`.
    func role(forTransformersSuffix suffix: String) -> LayerRole? {
        layerRoles.first { layer.transformersName($0) == suffix }
    }

    /// The role whose GGUF name within a layer is `suffix`; `headwiseGate`
    /// picks `headwiseGate` for `attn_gate` (its shape tells which).
    func role(forGGUFSuffix suffix: String, headwiseGate: Bool = false) -> LayerRole? {
        if let alias = layer.ggufAliases[suffix] { return alias }
        let candidates = layerRoles.filter { layer.ggufName($0) == suffix }
        if candidates.contains(.gate) { return headwiseGate ? .headwiseGate : .gate }
        return candidates.first
    }

    /// The non-expert MoE tensors within a layer: (transformers, GGUF).
    var expertBlockNames: [(String, String)] {
        guard let experts = expertLayout else { return [] }
        var names = [(experts.router, "ffn_gate_inp.weight")]
        if experts.hasSharedExpert {
            names += [
                ("mlp.shared_expert.gate_proj.weight", "ffn_gate_shexp.weight"),
                ("mlp.shared_expert.up_proj.weight", "ffn_up_shexp.weight"),
                ("mlp.shared_expert.down_proj.weight", "ffn_down_shexp.weight"),
                ("mlp.shared_expert_gate.weight", "ffn_gate_inp_shexp.weight"),
            ]
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
    public func expertTensorName(layer: Int, expert: Int, part: ExpertPart) -> String? {
        guard case .mixtureOfExperts(let experts) = feedForward else { return nil }
        let suffix = switch part {
        case .gate: experts.expertParts.gate
        case .up: experts.expertParts.up
        case .down: experts.expertParts.down
        }
        return "\(Self.transformersLayerPrefix)\(layer).\(experts.expertPrefix)\(expert).\(suffix)"
    }

    /// The transformers-style name of layer `layer`'s experts' `part` stacked
    /// (`model.layers.3.mlp.experts.*.gate_proj.weight`), as plans show it.
    func stackedExpertTensorName(layer: Int, part: ExpertPart) -> String {
        expertTensorName(layer: layer, expert: 0, part: part).map { name in
            let prefix = "\(Self.transformersLayerPrefix)\(layer).\(expertLayout?.expertPrefix ?? "")"
            return prefix + "*" + name.dropFirst(prefix.count + 1)
        } ?? ggufExpertName(layer: layer, part: part)
    }

    /// llama.cpp's name of the stacked `part` of layer `layer`'s experts.
    func ggufExpertName(layer: Int, part: ExpertPart) -> String {
        "\(Self.ggufLayerPrefix)\(layer).\(part.ggufStackedSuffix)"
    }

    /// (layer, expert, part) of a transformers expert tensor name.
    public func expertComponents(of name: String) -> (layer: Int, expert: Int, part: ExpertPart)? {
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
        guard let (index, suffix) = Self.splitLayer(name, prefix: Self.transformersLayerPrefix) else { return nil }
        if let role = role(forTransformersSuffix: suffix) { return ggufName(role, layer: index) }
        guard let pair = expertBlockNames.first(where: { $0.0 == suffix }) else { return nil }
        return "\(Self.ggufLayerPrefix)\(index).\(pair.1)"
    }

    /// The transformers name of a GGUF tensor name; `headwiseGate` picks
    /// `g_proj` for `attn_gate` (its shape tells which).
    public func transformersName(forGGUF name: String, headwiseGate: Bool = false) -> String? {
        if let global = Self.globalNames.first(where: { $0.1 == name }) { return global.0 }
        guard let (index, suffix) = Self.splitLayer(name, prefix: Self.ggufLayerPrefix) else { return nil }
        if let role = role(forGGUFSuffix: suffix, headwiseGate: headwiseGate) { return transformersName(role, layer: index) }
        guard let pair = expertBlockNames.first(where: { $0.1 == suffix }) else { return nil }
        return "\(Self.transformersLayerPrefix)\(index).\(pair.0)"
    }

    /// The layer role of a transformers tensor name, with its layer.
    public func layerRole(of name: String) -> (layer: Int, role: LayerRole)? {
        guard let (index, suffix) = Self.splitLayer(name, prefix: Self.transformersLayerPrefix),
            let role = role(forTransformersSuffix: suffix)
        else { return nil }
        return (index, role)
    }

    /// Splits `prefix` + `N.` + suffix into (N, suffix).
    public static func splitLayer(_ name: String, prefix: String) -> (Int, String)? {
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]), layer >= 0 else { return nil }
        return (layer, String(rest[rest.index(after: dot)...]))
    }
}
