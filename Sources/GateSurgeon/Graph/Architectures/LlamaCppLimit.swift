/// Something llama.cpp derives or hard-codes for a family where
/// transformers reads the config: a checkpoint whose config says otherwise
/// converts (the converter does not object) and computes something else
/// in llama.cpp. A family lists its limits (`Architecture.llamaCppLimits`);
/// `ModelConfig.llamaCppDifferences` says which ones a config runs into.
public enum LlamaCppLimit: Sendable {
    /// Queries are scaled by 1 / sqrt(head_dim), or 1 / sqrt(hidden / heads)
    /// at `hiddenPerHeadLayers` layers; `query_pre_attn_scalar` is not read (Gemma).
    case queryScaleFromHeadSize(hiddenPerHeadLayers: Int?)
    /// Layers slide by a fixed pattern: all but every `period`-th (Gemma 2: 2, Gemma 3: 6).
    case slidingPattern(period: Int)
    /// Every `period`-th layer skips RoPE, whatever the config lists (SmolLM3: 4).
    case noRopePeriod(Int)
    /// The sliding window is switched off (Phi-3).
    case ignoresSlidingWindow
    /// The converter writes no RoPE keys: base 10000, unscaled (Gemma 2).
    case defaultRopeOnly
    /// Sliding layers rope with the full layers' base (OLMo 3).
    case fullBaseOnSlidingLayers
}

extension ModelConfig {
    /// How llama.cpp will compute this model otherwise than transformers
    /// (and gatesurgeon's forward pass) do, one sentence each; empty when it
    /// computes the same.
    public var llamaCppDifferences: [String] {
        var found: [String] = []
        for limit in architecture.llamaCppLimits {
            switch limit {
            case .queryScaleFromHeadSize(let layers):
                let used = layerCount == layers ? hiddenSize / headCount : headDim
                if let scalar = queryPreAttentionScalar, scalar != Double(used) {
                    found.append("llama.cpp scales queries by 1/sqrt(\(used)), not by query_pre_attn_scalar \(scalar)^-1/2")
                }
            case .slidingPattern(let period):
                let fixed = (0..<layerCount).map { ($0 + 1) % period != 0 }
                if slidingWindow != nil, slidingLayers != fixed {
                    found.append("llama.cpp slides all layers but every \(period)th, not the config's layer_types")
                }
            case .noRopePeriod(let period):
                if ropeLayers != (0..<layerCount).map({ ($0 + 1) % period != 0 }) {
                    found.append("llama.cpp skips RoPE in every \(period)th layer, not in the config's no_rope_layers")
                }
            case .ignoresSlidingWindow:
                if let slidingWindow, slidingLayers.contains(true) {
                    found.append("llama.cpp switches this family's sliding window (\(slidingWindow)) off: beyond it, it attends to every earlier token")
                }
            case .defaultRopeOnly:
                if rope != RoPE(theta: 10000) {
                    found.append("llama.cpp's converter writes no RoPE settings for this family: llama.cpp uses base 10000 without scaling")
                }
            case .fullBaseOnSlidingLayers:
                if let slidingRope, slidingRope.theta != rope.theta {
                    found.append("llama.cpp ropes sliding-window layers with the full layers' base \(rope.theta), not \(slidingRope.theta)")
                }
            }
        }
        return found
    }
}
