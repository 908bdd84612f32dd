/// The part a tensor plays in a decoder layer, whatever a family calls it.
/// Experts are not roles: a mixture of experts has its own layout
/// (`Architecture.ExpertLayout`).
public enum LayerRole: String, Sendable, CaseIterable {
    /// The RMSNorm before attention.
    case attentionNorm
    case query, queryBias, key, keyBias, value, valueBias
    /// q, k and v as one projection (Phi-3's `qkv_proj`): rows `[q | k | v]`.
    case queryKeyValue
    /// Per-head RMSNorms of queries and keys (or over the whole projection, `QueryKeyNormWidth`).
    case queryNorm, keyNorm
    case output, outputBias
    /// A separate-layout gate: `[H*d, D]` elementwise.
    case gate
    /// A separate-layout gate: `[H, D]` headwise.
    case headwiseGate
    /// The RMSNorm of attention's output, before the residual add (Gemma, OLMo 2).
    case attentionOutputNorm
    /// The RMSNorm before the MLP.
    case feedForwardNorm
    case feedForwardGate, feedForwardUp, feedForwardDown
    /// The MLP's gate and up projections as one (Phi-3's `gate_up_proj`): rows `[gate | up]`.
    case feedForwardGateUp
    /// The RMSNorm of the MLP's output, before the residual add (Gemma, OLMo 2).
    case feedForwardOutputNorm

    /// Whether the tensor is an RMSNorm weight (zero-centred in some families).
    public var isNorm: Bool {
        switch self {
        case .attentionNorm, .queryNorm, .keyNorm, .attentionOutputNorm, .feedForwardNorm, .feedForwardOutputNorm: true
        default: false
        }
    }

    /// The name within a layer in Llama's transformers checkpoints.
    var defaultTransformersName: String {
        switch self {
        case .attentionNorm: "input_layernorm.weight"
        case .query: "self_attn.q_proj.weight"
        case .queryBias: "self_attn.q_proj.bias"
        case .key: "self_attn.k_proj.weight"
        case .keyBias: "self_attn.k_proj.bias"
        case .value: "self_attn.v_proj.weight"
        case .valueBias: "self_attn.v_proj.bias"
        case .queryKeyValue: "self_attn.qkv_proj.weight"
        case .queryNorm: "self_attn.q_norm.weight"
        case .keyNorm: "self_attn.k_norm.weight"
        case .output: "self_attn.o_proj.weight"
        case .outputBias: "self_attn.o_proj.bias"
        case .gate: "self_attn.gate_proj.weight"
        case .headwiseGate: "self_attn.g_proj.weight"
        case .attentionOutputNorm: "post_attention_layernorm.weight"
        case .feedForwardNorm: "post_attention_layernorm.weight"
        case .feedForwardGate: "mlp.gate_proj.weight"
        case .feedForwardUp: "mlp.up_proj.weight"
        case .feedForwardDown: "mlp.down_proj.weight"
        case .feedForwardGateUp: "mlp.gate_up_proj.weight"
        case .feedForwardOutputNorm: "post_feedforward_layernorm.weight"
        }
    }

    /// llama.cpp's name within a layer (gguf-py `MODEL_TENSOR`).
    var defaultGGUFName: String {
        switch self {
        case .attentionNorm: "attn_norm.weight"
        case .query: "attn_q.weight"
        case .queryBias: "attn_q.bias"
        case .key: "attn_k.weight"
        case .keyBias: "attn_k.bias"
        case .value: "attn_v.weight"
        case .valueBias: "attn_v.bias"
        case .queryKeyValue: "attn_qkv.weight"
        case .queryNorm: "attn_q_norm.weight"
        case .keyNorm: "attn_k_norm.weight"
        case .output: "attn_output.weight"
        case .outputBias: "attn_output.bias"
        case .gate, .headwiseGate: "attn_gate.weight"
        case .attentionOutputNorm: "post_attention_norm.weight"
        case .feedForwardNorm: "ffn_norm.weight"
        case .feedForwardGate: "ffn_gate.weight"
        case .feedForwardUp: "ffn_up.weight"
        case .feedForwardDown: "ffn_down.weight"
        // llama.cpp keeps Phi-3's fused projection as ffn_up and splits it in the graph.
        case .feedForwardGateUp: "ffn_up.weight"
        case .feedForwardOutputNorm: "post_ffw_norm.weight"
        }
    }
}

/// Where a layer's RMSNorms sit around attention and the MLP.
public enum NormPlacement: Sendable, Equatable {
    /// Before attention and before the MLP (Llama, Qwen).
    case preNorm
    /// Before and after each of attention and the MLP (Gemma 2 and 3).
    case sandwich
    /// After attention and after the MLP only, before each residual add (OLMo 2).
    case postNorm

    /// The norm roles a layer with this placement has.
    var roles: [LayerRole] {
        switch self {
        case .preNorm: [.attentionNorm, .feedForwardNorm]
        case .sandwich: [.attentionNorm, .attentionOutputNorm, .feedForwardNorm, .feedForwardOutputNorm]
        case .postNorm: [.attentionOutputNorm, .feedForwardOutputNorm]
        }
    }
}

/// What q_norm / k_norm normalise.
public enum QueryKeyNormWidth: Sendable, Equatable {
    /// Each head's `d` values (Qwen3, Gemma 3): weights `[d]`.
    case perHead
    /// The whole projection before the head split (OLMo 2): weights `[H*d]` and `[K*d]`.
    case fullWidth
}

/// The MLP's activation: `down(act(gate(x)) * up(x))`.
public enum Activation: String, Sendable, Equatable {
    /// `x * sigmoid(x)` (transformers `silu`).
    case silu
    /// GELU with the tanh approximation (transformers `gelu_pytorch_tanh`).
    case geluTanh = "gelu_pytorch_tanh"

    /// The activation a config names; nil for one gatesurgeon does not compute.
    init?(configName: String) {
        switch configName {
        case "silu", "swish": self = .silu
        case "gelu_pytorch_tanh", "gelu_new", "gelu_fast": self = .geluTanh
        default: return nil
        }
    }
}

/// The parts one decoder layer of a family has and what they are called:
/// the one description the graph reader, the writers, the forward pass and
/// gate insertion derive a layer from. What a family decides per
/// checkpoint (biases, q/k norms, the gate) comes from its config
/// (`ModelConfig`); what is fixed for the family is here.
public struct LayerSpec: Sendable {
    public var norms: NormPlacement = .preNorm
    /// q, k and v stored as one tensor (`LayerRole.queryKeyValue`).
    public var fusedQueryKeyValue = false
    /// What the q/k norms normalise, when the config gives the layer some.
    public var queryKeyNormWidth: QueryKeyNormWidth = .perHead
    /// The MLP's gate and up stored as one tensor (`LayerRole.feedForwardGateUp`).
    public var fusedGateUp = false
    /// The family's own names where they differ from Llama's.
    public var transformersNames: [LayerRole: String] = [:]
    /// llama.cpp's names where they differ from gguf-py's usual ones.
    public var ggufNames: [LayerRole: String] = [:]
    /// Other GGUF names read as a role (converter versions differ).
    public var ggufAliases: [String: LayerRole] = [:]

    public init(norms: NormPlacement = .preNorm, fusedQueryKeyValue: Bool = false, queryKeyNormWidth: QueryKeyNormWidth = .perHead,
                fusedGateUp: Bool = false, transformersNames: [LayerRole: String] = [:], ggufNames: [LayerRole: String] = [:],
                ggufAliases: [String: LayerRole] = [:]) {
        self.norms = norms
        self.fusedQueryKeyValue = fusedQueryKeyValue
        self.queryKeyNormWidth = queryKeyNormWidth
        self.fusedGateUp = fusedGateUp
        self.transformersNames = transformersNames
        self.ggufNames = ggufNames
        self.ggufAliases = ggufAliases
    }

    /// The name of `role` within a layer, in transformers' convention.
    public func transformersName(_ role: LayerRole) -> String { transformersNames[role] ?? role.defaultTransformersName }

    /// The name of `role` within a layer, in llama.cpp's convention.
    public func ggufName(_ role: LayerRole) -> String { ggufNames[role] ?? role.defaultGGUFName }
}

/// A tensor a layer has or may have, with its expected shape.
public struct LayerSlot: Sendable {
    public var role: LayerRole
    public var shape: [Int]
    /// Whether the checkpoint must have it (else it is taken when present).
    public var required: Bool
}

extension ModelConfig {
    /// Every tensor (but experts) layer `layer` has or may have, in
    /// transformers' order, with the shapes this config implies.
    public func layerSlots(_ layer: Int) -> [LayerSlot] {
        let spec = architecture.layer
        let (D, d, H, K, F) = (hiddenSize, headDim, headCount, kvHeadCount, intermediateSize)
        var queryRows = H * d
        if let gate, gate.layout != .separate, gate.gates(layer: layer) { queryRows += gateRows(gate.granularity) }
        var slots: [LayerSlot] = []
        func add(_ role: LayerRole, _ shape: [Int], required: Bool = true) { slots.append(LayerSlot(role: role, shape: shape, required: required)) }
        let norms = spec.norms.roles
        if norms.contains(.attentionNorm) { add(.attentionNorm, [D]) }
        if spec.fusedQueryKeyValue {
            add(.queryKeyValue, [queryRows + 2 * K * d, D])
        } else {
            add(.query, [queryRows, D])
            add(.queryBias, [queryRows], required: attentionBias)
            add(.key, [K * d, D])
            add(.keyBias, [K * d], required: attentionBias)
            add(.value, [K * d, D])
            add(.valueBias, [K * d], required: attentionBias)
        }
        add(.output, [D, H * d])
        add(.outputBias, [D], required: false)
        if hasQueryKeyNorm {
            let full = spec.queryKeyNormWidth == .fullWidth
            add(.queryNorm, [full ? H * d : d])
            add(.keyNorm, [full ? K * d : d])
        }
        add(.gate, [H * d, D], required: false)
        add(.headwiseGate, [H, D], required: false)
        if norms.contains(.attentionOutputNorm) { add(.attentionOutputNorm, [D]) }
        if norms.contains(.feedForwardNorm) { add(.feedForwardNorm, [D]) }
        if experts == nil {
            if spec.fusedGateUp {
                add(.feedForwardGateUp, [2 * F, D])
            } else {
                add(.feedForwardGate, [F, D])
                add(.feedForwardUp, [F, D])
            }
            add(.feedForwardDown, [D, F])
        }
        if norms.contains(.feedForwardOutputNorm) { add(.feedForwardOutputNorm, [D]) }
        return slots
    }
}
