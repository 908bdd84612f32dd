import JSON
import Platform

/// Reading a `step35` GGUF back as the family it carries: the shape
/// `Step35` writes (and hand-made files of it), computed layer by layer as
/// llama.cpp's `llama_model_step35` derives it from the keys. Anything else
/// step35 can hold (real Step-3.5 models: per-layer head counts, half-rotary
/// full-attention layers, sigmoid routers, multi-token prediction) is
/// refused with what it is.
extension Step35 {
    /// The model config of a step35 file.
    static func config(reading gguf: GGUFModel) throws -> ModelConfig {
        let path = gguf.path
        let file = HyperparameterReader(gguf: gguf.metadata, path: path, architecture: ggufName)
        func refuse(_ problem: String) -> ModelError {
            .unsupportedModel(path: path, problem: "a step35 file gatesurgeon does not read: \(problem)")
        }
        let names = Set(gguf.tensors.map(\.name))
        func has(_ suffix: String, layer: Int = 0) -> Bool { names.contains("\(Architecture.ggufLayerPrefix)\(layer).\(suffix)") }

        for key in [GGUFKey.headCount, GGUFKey.headCountKV, GGUFKey.feedForwardLength, GGUFKey.expertFeedForwardLength]
        where file.value(key)?.elements != nil {
            throw refuse("\(file.spelled(key)) differs per layer")
        }
        if let layers = try file.optionalInt(Key.nextNPredictLayers, in: 0...Int(UInt32.max)), layers > 0 {
            throw refuse("\(layers) multi-token prediction layers (\(file.spelled(Key.nextNPredictLayers)))")
        }
        for key in Key.swigluClamps {
            let values = file.value(key).map { $0.elements ?? [$0] } ?? []
            if values.contains(where: { ($0.doubleValue ?? 1) != 0 }) { throw refuse("SwiGLU clamps (\(file.spelled(key)))") }
        }
        if let scale = try file.optionalDouble(Key.expertWeightsScale), scale != 0, scale != 1 {
            throw refuse("expert weights scaled by \(scale) (\(file.spelled(Key.expertWeightsScale)))")
        }
        if let type = try file.optionalString(GGUFKey.ropeScalingType), type != "none" {
            throw refuse("RoPE scaling '\(type)' (\(file.spelled(GGUFKey.ropeScalingType)))")
        }
        if let factor = try file.optionalDouble(GGUFKey.ropeScalingFactor), factor != 0, factor != 1 {
            throw refuse("RoPE scaled by \(factor) in full-attention layers only (\(file.spelled(GGUFKey.ropeScalingFactor)))")
        }
        if let rope = names.first(where: { GGUFMetadataBuilder.ropeTensorNames.contains($0) || $0.hasSuffix(".rope_freqs.weight") }) {
            throw refuse("\(rope): RoPE frequency factors, which step35 applies to full-attention layers only")
        }
        if let fused = names.first(where: { $0.hasSuffix(".attn_qkv.weight") }) { throw refuse("\(fused): fused q/k/v") }
        if let bias = names.first(where: { $0.hasSuffix(".attn_output.bias") }) { throw refuse("\(bias), which step35 does not load") }
        if let bias = names.first(where: { $0.hasSuffix(".exp_probs_b.bias") }) { throw refuse("\(bias): a biased expert choice") }

        let hidden = try file.int(GGUFKey.embeddingLength)
        let heads = try file.int(GGUFKey.headCount)
        let layers = try file.int(GGUFKey.blockCount)
        guard layers <= ModelConfig.Limits.layers else { throw file.failure(GGUFKey.blockCount, "\(layers) is out of range") }
        let headDim = try file.optionalInt(GGUFKey.keyLength) ?? hidden / heads
        for key in [GGUFKey.valueLength, Key.keyLengthSWA, Key.valueLengthSWA] {
            if let length = try file.optionalInt(key), length != headDim {
                throw refuse("\(file.spelled(key)) \(length) differs from the key length \(headDim)")
            }
        }

        // Which layers slide, and with what window (both required by llama.cpp).
        guard let pattern = try file.optionalBools(GGUFKey.slidingWindowPattern, maxCount: ModelConfig.Limits.layers) else {
            throw file.failure(GGUFKey.slidingWindowPattern, "missing (llama.cpp requires it for step35)")
        }
        guard pattern.count == layers else {
            throw file.failure(GGUFKey.slidingWindowPattern, "lists \(pattern.count) layers, block_count is \(layers)")
        }
        guard let window = try file.optionalInt(GGUFKey.slidingWindow, in: 0...Int(UInt32.max)) else {
            throw file.failure(GGUFKey.slidingWindow, "missing (llama.cpp requires it for step35)")
        }
        let context = try file.optionalInt(GGUFKey.contextLength) ?? 4096
        // A window no position within the context reaches is full attention.
        let slidingLayers = window >= context ? Array(repeating: false, count: layers) : pattern

        // RoPE per layer as llama.cpp sets it up: full-attention layers rotate half of
        // rope.dimension_count with rope.freq_base, sliding ones rope.dimension_count_swa
        // (default: the unhalved count) with rope.freq_base_swa (default 10000).
        let fullRotated = try file.optionalInt(GGUFKey.ropeDimensionCount, in: 0...Int(UInt32.max)) ?? headDim
        let swaRotated = try file.optionalInt(Key.ropeDimensionCountSWA, in: 0...Int(UInt32.max)) ?? fullRotated
        let fullBase = try file.optionalDouble(GGUFKey.ropeFreqBase) ?? 10000
        let swaBase = try file.optionalDouble(GGUFKey.ropeFreqBaseSWA) ?? 10000
        for (layer, slides) in pattern.enumerated() {
            let rotated = slides ? swaRotated : fullRotated / 2
            guard rotated == headDim else {
                throw refuse("layer \(layer) rotates \(rotated) of its \(headDim) head dimensions (full-attention layers rotate half of \(file.spelled(GGUFKey.ropeDimensionCount)))")
            }
        }
        let bases = Set(pattern.map { $0 ? swaBase : fullBase })
        guard bases.count == 1, let theta = bases.first else {
            throw refuse("its sliding-window layers have RoPE base \(swaBase), the others \(fullBase)")
        }

        // Experts: softmax routing as Qwen3-MoE and Mixtral route (step35's default is a sigmoid).
        let expertCount = try file.optionalInt(GGUFKey.expertCount, in: 0...ModelConfig.Limits.experts) ?? 0
        let expertLayers = (0..<layers).filter { has("ffn_gate_inp.weight", layer: $0) }
        var experts: ModelConfig.ExpertConfig?
        if expertCount > 0 || !expertLayers.isEmpty {
            guard expertLayers.count == layers else {
                throw refuse("experts in layers \(expertLayers.map(String.init).joined(separator: ", ")) only; gatesurgeon reads models with experts in every layer")
            }
            let gating = try file.optionalInt(Key.expertGatingFunction, in: 0...Int(UInt32.max)) ?? 0
            guard gating == softmaxGating else {
                throw refuse("its router is not a softmax (\(file.spelled(Key.expertGatingFunction)) \(gating); step35's default is a sigmoid), which no family gatesurgeon models uses")
            }
            experts = ModelConfig.ExpertConfig(
                count: try file.int(GGUFKey.expertCount), perToken: try file.int(GGUFKey.expertUsedCount),
                intermediateSize: try file.int(GGUFKey.expertFeedForwardLength),
                normalizesTopK: try file.optionalBool(Key.expertWeightsNorm) ?? false)
        }

        // The family is what the layer's parts say (a Mistral without a window is a Llama).
        let norms = has("attn_q_norm.weight"), biases = has("attn_q.bias")
        let family: ModelFamily
        if experts != nil {
            guard !biases else { throw refuse("experts with q/k/v biases, which no family gatesurgeon models has without a gated shared expert") }
            family = norms ? .qwen3Moe : .mixtral
            if family == .mixtral, experts?.normalizesTopK == false {
                throw refuse("Mixtral-style experts whose top-k weights are not renormalised (\(file.spelled(Key.expertWeightsNorm)) false)")
            }
        } else if norms {
            family = .qwen3
        } else if biases {
            family = .qwen2
        } else if slidingLayers.allSatisfy({ $0 }) {
            family = .mistral
        } else if slidingLayers.contains(true) {
            throw refuse("sliding-window layers \(slidingLayers.indices.filter { slidingLayers[$0] }.map(String.init).joined(separator: ", ")) only, without q/k norms or biases: no family gatesurgeon models has that shape")
        } else {
            family = .llama
        }
        var json: JSONObject = [:]
        if case .fromMaxWindowLayers = family.architecture.layerPattern, let first = slidingLayers.firstIndex(of: true) {
            // Qwen's windows cover the layers from max_window_layers on.
            guard slidingLayers[first...].allSatisfy({ $0 }) else {
                throw refuse("sliding-window layers \(slidingLayers.indices.filter { slidingLayers[$0] }.map(String.init).joined(separator: ", ")): Qwen's windows cover every layer from one on")
            }
            json = ["use_sliding_window": .bool(true), "max_window_layers": .int(Int64(first))]
        }

        let embedding = gguf.tensors.first { $0.name == "token_embd.weight" }
        var config = ModelConfig(
            family: family, hiddenSize: hidden,
            intermediateSize: try file.optionalInt(GGUFKey.feedForwardLength) ?? experts?.intermediateSize ?? file.int(GGUFKey.feedForwardLength),
            layerCount: layers, headCount: heads, kvHeadCount: try file.optionalInt(GGUFKey.headCountKV) ?? heads,
            headDim: headDim, vocabSize: embedding?.shape.first ?? gguf.value("tokenizer.ggml.tokens")?.arrayValues?.count ?? 0,
            maxPositionEmbeddings: context, rmsNormEps: try file.optionalDouble(GGUFKey.rmsEpsilon) ?? 1e-5, rope: RoPE(theta: theta),
            partialRotaryFactor: 1, tieWordEmbeddings: !names.contains("output.weight"))
        config.architecture = family.architecture.step35
        config.attentionBias = biases
        config.outputBias = false
        config.hasQueryKeyNorm = norms
        config.experts = experts
        config.slidingLayers = slidingLayers
        config.slidingWindow = slidingLayers.contains(true) ? window : nil
        config.json = json
        try config.validate(path: path)
        config.json = config.transformersConfig()
        return config
    }

    /// What is left once the graph of a step35 file is read: the zero
    /// shared experts leave (refused when not zero, or missing where
    /// llama.cpp would add the layer's input instead), and an
    /// `output.weight` with the embedding's bytes makes the model tied again.
    static func finishReading(_ graph: inout ModelGraph) throws {
        let path = graph.sourcePath
        let file = HyperparameterReader(gguf: graph.ggufMetadata ?? [:], path: path, architecture: ggufName)
        let width = try file.optionalInt(GGUFKey.expertSharedFeedForwardLength) ?? 0
        let hidden = graph.config.hiddenSize
        var shared: [Int: Int] = [:]
        var kept: [GraphTensor] = []
        for tensor in graph.passthrough {
            guard let (layer, suffix) = Architecture.splitLayer(tensor.name, prefix: Architecture.ggufLayerPrefix),
                sharedExpertSuffixes.contains(suffix)
            else {
                kept.append(tensor)
                continue
            }
            guard graph.config.experts != nil else {
                throw ModelError.unsupportedModel(path: path, problem: "\(tensor.name): a shared expert in a layer without experts")
            }
            let expected = suffix.hasPrefix("ffn_down") ? [hidden, width] : [width, hidden]
            guard tensor.shape == expected else { throw ModelError.wrongShape(path: path, tensor: tensor.name, expected: expected, found: tensor.shape) }
            // Zero blocks are zero bytes in every type gatesurgeon writes; others are decoded.
            let zeroBytes = tensor.expression.storedTensor?.withBytes { bytes in bytes.allSatisfy { $0 == 0 } } ?? false
            guard try zeroBytes || tensor.values().allSatisfy({ $0 == 0 }) else {
                throw ModelError.unsupportedModel(path: path, problem: "\(tensor.name) is not zero: a shared expert without a gate, which no family gatesurgeon models has")
            }
            shared[layer, default: 0] += 1
        }
        if graph.config.experts != nil, let layer = graph.layers.indices.first(where: { shared[$0] != sharedExpertSuffixes.count }) {
            throw ModelError.unsupportedModel(path: path, problem: "layer \(layer) lacks the shared expert step35 adds to every expert layer (\(sharedExpertSuffixes.joined(separator: ", ")))")
        }
        graph.passthrough = kept
        if let output = graph.output?.expression.storedTensor, let embedding = graph.embedding.expression.storedTensor,
            output.dtype == embedding.dtype, output.shape == embedding.shape, output.byteCount == embedding.byteCount,
            output.withBytes({ a in embedding.withBytes { b in a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0 } })
        {
            graph.output = nil
            graph.config.tieWordEmbeddings = true
            graph.config.json = graph.config.transformersConfig()
        }
    }
}
