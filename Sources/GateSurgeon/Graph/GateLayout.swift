/// Where the gate's weights live; see the README's "Gate layouts".
public enum GateLayout: String, Sendable, CaseIterable {
    /// The paper's official code: gate rows fused into q_proj, grouped per KV group.
    case gatedAttention = "gated-attention"
    /// Qwen3-Next / Qwen3.5: gate rows interleaved per head inside q_proj.
    case qwen3Next = "qwen3-next"
    /// One new tensor per layer (`self_attn.gate_proj` / `g_proj`, `blk.N.attn_gate`).
    case separate
}

/// One gate value per head dimension, or one per head.
public enum GateGranularity: String, Sendable, CaseIterable {
    case elementwise
    case headwise
}

/// The gate a model has.
public struct GateSpec: Sendable, Equatable {
    public var layout: GateLayout
    public var granularity: GateGranularity
    /// Gated layers; nil means every layer.
    public var layers: Set<Int>?

    public init(layout: GateLayout, granularity: GateGranularity, layers: Set<Int>? = nil) {
        self.layout = layout
        self.granularity = granularity
        self.layers = layers
    }

    public func gates(layer: Int) -> Bool { layers?.contains(layer) ?? true }
}


/// The rows of a q_proj that carries fused gate rows, in stored order: runs
/// of query rows and of gate rows. The one definition of each fused
/// layout's row order; gate insertion writes it and the forward pass reads it.
///
/// - gated-attention (the paper's code): per KV group j, the query rows of
///   the group's G heads (G*d), then their gate rows (G*d, or G headwise);
///   its forward does `view(..., K, -1).split([G*d, G*d or G])`.
/// - qwen3-next (Qwen3-Next, Qwen3.5): per head h, its d query rows, then
///   its d gate rows; `view(..., -1, 2*d).chunk(2)`.
public struct FusedQueryLayout: Sendable, Equatable {
    public enum Part: Sendable, Equatable { case query, gate }

    /// `count` rows of `part`, starting at row `start` of that part
    /// (queries have H*d rows, the gate H*d or H).
    public struct Run: Sendable, Equatable {
        public var part: Part
        public var start: Int
        public var count: Int
    }

    public let runs: [Run]
    /// Rows of the fused tensor.
    public let rowCount: Int

    /// The layout of `spec`'s fused rows; nil for the separate layout,
    /// whose gate is a tensor of its own.
    public init?(_ spec: GateSpec, heads: Int, kvHeads: Int, headDim: Int) {
        let perHead = spec.granularity == .elementwise ? headDim : 1
        var runs: [Run] = []
        switch spec.layout {
        case .separate:
            return nil
        case .gatedAttention:
            let group = heads / kvHeads
            for j in 0..<kvHeads {
                runs.append(Run(part: .query, start: j * group * headDim, count: group * headDim))
                runs.append(Run(part: .gate, start: j * group * perHead, count: group * perHead))
            }
        case .qwen3Next:
            for h in 0..<heads {
                runs.append(Run(part: .query, start: h * headDim, count: headDim))
                runs.append(Run(part: .gate, start: h * perHead, count: perHead))
            }
        }
        self.runs = runs
        rowCount = runs.reduce(0) { $0 + $1.count }
    }
}
