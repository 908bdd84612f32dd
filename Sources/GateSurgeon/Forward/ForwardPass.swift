import Platform

/// A reference forward pass in F32 on the CPU, for every family
/// gatesurgeon models and every gate layout of `ModelConfig.gate`.
///
/// It follows transformers' eager modeling code op for op (RMSNorm in F32,
/// rotate-half RoPE, causal softmax in F32, the family's MLP activation,
/// norms where the family's `LayerSpec` puts them, its scalars and
/// soft-caps, sliding windows), so its logits match transformers' to
/// rounding. Weights are decoded to F32 one layer at a time, and lm_head in
/// blocks of rows, so memory stays near one layer's weights plus the
/// activations whatever the model size.
///
///     let graph = try ModelGraph(checkpoint: Checkpoint(path: "model/"))
///     let result = try ForwardPass(graph: graph).run(tokens: [1, 17, 42])
///     print(result.layers.map(\.firstTokenAttention))
public struct ForwardPass: Sendable {
    public var graph: ModelGraph
    public var options: ForwardOptions

    public init(graph: ModelGraph, options: ForwardOptions = ForwardOptions()) {
        self.graph = graph
        self.options = options
    }

    /// How one layer's attention output is gated.
    enum LayerGate: Equatable {
        case none
        /// Gate rows fused into q_proj (gated-attention or qwen3-next layout).
        case fused(FusedQueryLayout)
        /// A separate gate tensor.
        case separate(GateGranularity)
    }

    /// RoPE cos and sin tables `[positions, rotaryDimensions / 2]`.
    typealias RopeTables = (cos: [Float], sin: [Float])

    /// Runs the model on `tokens` (positions 0..<count, causal).
    /// - Complexity: O(parameters * tokens + layers * heads * tokens^2 * headDim).
    /// - Parameter onLayer: called before each layer runs, with its index (for progress).
    public func run(tokens: [Int], onLayer: ((Int) -> Void)? = nil) throws -> ForwardResult {
        let config = graph.config
        let T = tokens.count, D = config.hiddenSize, V = config.vocabSize
        guard T > 0 else { throw ForwardError.noTokens }
        let embeddingRows = graph.embedding.expression.rowCount
        for (position, token) in tokens.enumerated() where token < 0 || token >= min(V, embeddingRows) {
            throw ForwardError.tokenOutOfRange(token: token, position: position, vocabSize: min(V, embeddingRows))
        }
        // One table per distinct RoPE (Gemma 3's local and global layers differ).
        var ropeTables: [RoPE: RopeTables] = [:]
        for layer in 0..<config.layerCount {
            if let rope = config.rope(layer: layer), ropeTables[rope] == nil { ropeTables[rope] = try self.ropeTables(rope, positions: T) }
        }

        var hidden = [Float](repeating: 0, count: T * D)
        for (position, token) in tokens.enumerated() {
            let row = try graph.embedding.expression.rowValues(token..<(token + 1))
            guard row.count == D else {
                throw ForwardError.badTensor(path: graph.sourcePath, tensor: graph.embedding.name, problem: "rows have \(row.count) values, expected \(D)")
            }
            hidden.replaceSubrange((position * D)..<((position + 1) * D), with: row)
        }
        if let scale = config.embeddingScale {
            for i in hidden.indices { hidden[i] *= scale }
        }

        var hiddenStates: [[Float]]? = options.recordsHiddenStates ? [hidden] : nil
        var attentions: [[Float]]? = options.recordsAttention ? [] : nil
        var reports: [LayerReport] = []
        for layer in graph.layers {
            onLayer?(layer.index)
            let rope = config.rope(layer: layer.index).flatMap { ropeTables[$0] }
            let (report, probabilities) = try runLayer(layer, hidden: &hidden, tokens: T, rope: rope)
            reports.append(report)
            if let probabilities { attentions?.append(probabilities) }
            hiddenStates?.append(hidden)
        }

        guard options.computesLogits else {
            return ForwardResult(tokens: tokens, vocabSize: V, logits: [], layers: reports, attentions: attentions, hiddenStates: hiddenStates)
        }
        // Final norm, then lm_head (or the tied embedding) in blocks of rows.
        let finalNorm = try decode(graph.finalNorm, expecting: D)
        var normed = [Float](repeating: 0, count: T * D)
        rmsNorm(hidden, rows: T, size: D, weight: finalNorm, into: &normed)
        let head = graph.output ?? graph.embedding
        guard head.expression.rowCount >= V, head.expression.rowElements == D else {
            throw ForwardError.badTensor(path: graph.sourcePath, tensor: head.name, problem: "shape \(head.shape) does not match vocab \(V) x hidden \(D)")
        }
        let positions = options.logitsOfLastPositionOnly ? (T - 1)..<T : 0..<T
        var logits = [Float](repeating: 0, count: positions.count * V)
        let blockRows = max(1, min(V, (1 << 22) / max(1, D)))  // about 16 MiB of F32 weights
        var start = 0
        while start < V {
            let end = min(V, start + blockRows)
            try ForwardPass.withWeights(head, rows: start..<end) { w in
                normed.withUnsafeBufferPointer { all in
                    let x = UnsafeBufferPointer(rebasing: all[(positions.lowerBound * D)...])
                    logits.withUnsafeMutableBufferPointer { y in
                        ForwardKernels.linear(
                            x, tokens: positions.count, inputSize: D, weight: w, outputSize: end - start,
                            into: UnsafeMutableBufferPointer(rebasing: y[start...]), outputStride: V)
                    }
                }
            }
            start = end
        }
        head.expression.releaseSourcePages()
        // Granite divides the logits; Gemma 2 soft-caps them (divide, tanh, multiply, as transformers does).
        if let divisor = config.logitDivisor {
            for i in logits.indices { logits[i] /= divisor }
        }
        if let cap = config.finalLogitSoftcap {
            for i in logits.indices { logits[i] = tanhf(logits[i] / cap) * cap }
        }
        var result = ForwardResult(tokens: tokens, vocabSize: V, logits: logits, layers: reports, attentions: attentions, hiddenStates: hiddenStates)
        result.firstLogitPosition = positions.lowerBound
        return result
    }

    /// One decoder layer, updating the residual stream `hidden` in place.
    /// - Parameter rope: the layer's RoPE tables; nil for a layer without RoPE.
    func runLayer(
        _ layer: DecoderLayer, hidden: inout [Float], tokens T: Int, rope: RopeTables?
    ) throws -> (LayerReport, [Float]?) {
        let config = graph.config
        let spec = config.architecture.layer
        let D = config.hiddenSize, H = config.headCount, K = config.kvHeadCount, d = config.headDim
        let gate = try layerGate(layer)
        guard let output = layer[.output], let queryProjection = layer.queryProjection else {
            throw ForwardError.badTensor(path: graph.sourcePath, tensor: "layer \(layer.index)", problem: "has no attention projections")
        }

        // Attention input: the norm before attention (if the family has one), then the projections.
        var x = hidden
        if let norm = layer[.attentionNorm] {
            rmsNorm(hidden, rows: T, size: D, weight: try decode(norm, expecting: D), into: &x)
        }
        var fused: [Float]
        var keys: [Float]
        var values: [Float]
        let queryRows: Int
        if let queryKeyValue = layer[.queryKeyValue] {
            // One projection, rows [queries (with any fused gate rows) | keys | values].
            observe(queryKeyValue, input: x, rows: T)
            let all = try project(x, tokens: T, queryKeyValue, bias: nil, inputSize: D)
            let width = queryKeyValue.expression.rowCount
            queryRows = width - 2 * K * d
            fused = [Float](repeating: 0, count: T * queryRows)
            keys = [Float](repeating: 0, count: T * K * d)
            values = [Float](repeating: 0, count: T * K * d)
            for t in 0..<T {
                let row = t * width
                fused.replaceSubrange((t * queryRows)..<((t + 1) * queryRows), with: all[row..<(row + queryRows)])
                keys.replaceSubrange((t * K * d)..<((t + 1) * K * d), with: all[(row + queryRows)..<(row + queryRows + K * d)])
                values.replaceSubrange((t * K * d)..<((t + 1) * K * d), with: all[(row + queryRows + K * d)..<(row + width)])
            }
        } else {
            guard let key = layer[.key], let value = layer[.value] else {
                throw ForwardError.badTensor(path: graph.sourcePath, tensor: queryProjection.name, problem: "layer \(layer.index) has no k_proj or v_proj")
            }
            queryRows = queryProjection.expression.rowCount
            for weight in [queryProjection, key, value] { observe(weight, input: x, rows: T) }
            fused = try project(x, tokens: T, queryProjection, bias: layer[.queryBias], inputSize: D)
            keys = try project(x, tokens: T, key, bias: layer[.keyBias], inputSize: D)
            values = try project(x, tokens: T, value, bias: layer[.valueBias], inputSize: D)
        }

        // Split query rows from gate rows (gate rows stay raw: no norm, no RoPE).
        var queries: [Float]
        var gateLogits: [Float]? = nil
        let granularity: GateGranularity? = switch gate {
        case .none: nil
        case .separate(let granularity): granularity
        case .fused: config.gate?.granularity
        }
        let gateWidth = granularity == .headwise ? H : H * d
        switch gate {
        case .none:
            queries = fused
        case .fused(let layout):
            queries = [Float](repeating: 0, count: T * H * d)
            var gates = [Float](repeating: 0, count: T * gateWidth)
            for t in 0..<T {
                var source = t * queryRows
                for run in layout.runs {
                    switch run.part {
                    case .query:
                        queries.replaceSubrange((t * H * d + run.start)..<(t * H * d + run.start + run.count), with: fused[source..<(source + run.count)])
                    case .gate:
                        gates.replaceSubrange((t * gateWidth + run.start)..<(t * gateWidth + run.start + run.count), with: fused[source..<(source + run.count)])
                    }
                    source += run.count
                }
            }
            gateLogits = gates
        case .separate:
            queries = fused
            let gateTensor = layer.separateGate!
            observe(gateTensor, input: x, rows: T)
            gateLogits = try project(x, tokens: T, gateTensor, bias: nil, inputSize: D)
        }

        // q_norm / k_norm per head (Qwen3, Gemma 3) or over the whole projection (OLMo 2), then RoPE.
        let fullWidth = spec.queryKeyNormWidth == .fullWidth
        if let queryNorm = layer[.queryNorm] {
            let size = fullWidth ? H * d : d
            let input = queries
            rmsNorm(input, rows: T * H * d / size, size: size, weight: try decode(queryNorm, expecting: size), into: &queries)
        }
        if let keyNorm = layer[.keyNorm] {
            let size = fullWidth ? K * d : d
            let input = keys
            rmsNorm(input, rows: T * K * d / size, size: size, weight: try decode(keyNorm, expecting: size), into: &keys)
        }
        if let rope {
            rope.cos.withUnsafeBufferPointer { cos in
                rope.sin.withUnsafeBufferPointer { sin in
                    queries.withUnsafeMutableBufferPointer {
                        ForwardKernels.applyRope($0, positions: T, heads: H, headDim: d, cos: cos, sin: sin)
                    }
                    keys.withUnsafeMutableBufferPointer {
                        ForwardKernels.applyRope($0, positions: T, heads: K, headDim: d, cos: cos, sin: sin)
                    }
                }
            }
        }

        // Causal attention, windowed and soft-capped as the layer says.
        var context = [Float](repeating: 0, count: T * H * d)
        var probabilities: [Float]? = options.recordsAttention ? [Float](repeating: 0, count: H * T * T) : nil
        var firstTokenSums = [Double](repeating: 0, count: H)
        let mask = ForwardKernels.AttentionMask(scale: config.attentionScale, softcap: config.attentionSoftcap, window: config.attentionWindow(layer: layer.index))
        queries.withUnsafeBufferPointer { q in
            keys.withUnsafeBufferPointer { k in
                values.withUnsafeBufferPointer { v in
                    context.withUnsafeMutableBufferPointer { out in
                        firstTokenSums.withUnsafeMutableBufferPointer { sums in
                            if probabilities != nil {
                                probabilities!.withUnsafeMutableBufferPointer { p in
                                    ForwardKernels.causalAttention(
                                        query: q, key: k, value: v, tokens: T, heads: H, kvHeads: K, headDim: d,
                                        mask: mask, into: out, probabilities: p, firstTokenSums: sums)
                                }
                            } else {
                                ForwardKernels.causalAttention(
                                    query: q, key: k, value: v, tokens: T, heads: H, kvHeads: K, headDim: d,
                                    mask: mask, into: out, probabilities: nil, firstTokenSums: sums)
                            }
                        }
                    }
                }
            }
        }
        let firstTokenAttention = T > 1 ? firstTokenSums.reduce(0, +) / Double(H * (T - 1)) : nil

        // The gate: context *= sigmoid(gate logits), per head dimension or per head.
        var meanGateScore: Double? = nil
        if let gateLogits {
            var total = 0.0
            for t in 0..<T {
                var rowTotal: Float = 0
                for h in 0..<H {
                    if granularity == .headwise {
                        let score = ForwardKernels.sigmoid(gateLogits[t * H + h])
                        rowTotal += score
                        for i in 0..<d { context[(t * H + h) * d + i] *= score }
                    } else {
                        for i in 0..<d {
                            let score = ForwardKernels.sigmoid(gateLogits[(t * H + h) * d + i])
                            rowTotal += score
                            context[(t * H + h) * d + i] *= score
                        }
                    }
                }
                total += Double(rowTotal)
            }
            meanGateScore = total / Double(T * gateWidth)
        }

        // o_proj, the norm after attention (Gemma, OLMo 2), and the residual.
        observe(output, input: context, rows: T)
        var attentionOutput = try project(context, tokens: T, output, bias: layer[.outputBias], inputSize: H * d)
        if let norm = layer[.attentionOutputNorm] {
            let input = attentionOutput
            rmsNorm(input, rows: T, size: D, weight: try decode(norm, expecting: D), into: &attentionOutput)
        }
        addResidual(attentionOutput, to: &hidden)

        // The feed-forward block, the norm after it, and the residual.
        x = hidden
        if let norm = layer[.feedForwardNorm] {
            rmsNorm(hidden, rows: T, size: D, weight: try decode(norm, expecting: D), into: &x)
        }
        var down: [Float]
        var routing: [Int]? = nil
        if let experts = layer.experts {
            (down, routing) = try runExperts(x, tokens: T, experts)
        } else {
            down = try runDenseMLP(x, tokens: T, layer)
        }
        if let norm = layer[.feedForwardOutputNorm] {
            let input = down
            rmsNorm(input, rows: T, size: D, weight: try decode(norm, expecting: D), into: &down)
        }
        addResidual(down, to: &hidden)
        var maxActivation: Float = 0
        for value in hidden { maxActivation = max(maxActivation, abs(value)) }
        if hidden.contains(where: \.isNaN) { maxActivation = .nan }

        var report = LayerReport(index: layer.index, firstTokenAttention: firstTokenAttention, maxActivation: maxActivation, meanGateScore: meanGateScore)
        report.experts = routing
        return (report, probabilities)
    }

    /// `hidden += update` (times Granite's residual multiplier).
    func addResidual(_ update: [Float], to hidden: inout [Float]) {
        if let multiplier = graph.config.residualMultiplier {
            for i in hidden.indices { hidden[i] += update[i] * multiplier }
        } else {
            for i in hidden.indices { hidden[i] += update[i] }
        }
    }

    /// A dense layer's MLP: `down(act(gate(x)) * up(x))`, from separate
    /// gate and up projections or Phi-3's fused `gate_up_proj` (rows `[gate | up]`).
    func runDenseMLP(_ x: [Float], tokens T: Int, _ layer: DecoderLayer) throws -> [Float] {
        guard let down = layer[.feedForwardDown] else {
            throw ForwardError.badTensor(path: graph.sourcePath, tensor: "layer \(layer.index)", problem: "has no down projection")
        }
        if let gate = layer[.feedForwardGate], let up = layer[.feedForwardUp] {
            return try runMLP(x, tokens: T, MLPTensors(gate: gate, up: up, down: down), expert: nil)
        }
        guard let gateUp = layer[.feedForwardGateUp] else {
            throw ForwardError.badTensor(path: graph.sourcePath, tensor: "layer \(layer.index)", problem: "has no gate and up projections")
        }
        observe(gateUp, input: x, rows: T)
        let both = try project(x, tokens: T, gateUp, bias: nil, inputSize: graph.config.hiddenSize)
        let F = gateUp.expression.rowCount / 2
        var activation = [Float](repeating: 0, count: T * F)
        var up = [Float](repeating: 0, count: T * F)
        for t in 0..<T {
            activation.replaceSubrange((t * F)..<((t + 1) * F), with: both[(t * 2 * F)..<(t * 2 * F + F)])
            up.replaceSubrange((t * F)..<((t + 1) * F), with: both[(t * 2 * F + F)..<((t + 1) * 2 * F)])
        }
        activation.withUnsafeMutableBufferPointer { g in
            up.withUnsafeBufferPointer { u in ForwardKernels.gatedActivation(graph.config.activation, gate: g, up: u) }
        }
        observe(down, input: activation, rows: T)
        return try project(activation, tokens: T, down, bias: nil, inputSize: F)
    }

    /// `down(act(gate(x)) * up(x))` for `tokens` rows of `x`.
    func runMLP(_ x: [Float], tokens: Int, _ mlp: MLPTensors, expert: Int?) throws -> [Float] {
        let inputSize = graph.config.hiddenSize
        observe(mlp.gate, expert: expert, input: x, rows: tokens)
        observe(mlp.up, expert: expert, input: x, rows: tokens)
        var activation = try project(x, tokens: tokens, mlp.gate, bias: nil, inputSize: inputSize)
        let up = try project(x, tokens: tokens, mlp.up, bias: nil, inputSize: inputSize)
        guard up.count == activation.count else {
            throw ForwardError.badTensor(path: graph.sourcePath, tensor: mlp.up.name, problem: "\(up.count / max(1, tokens)) rows, gate_proj has \(activation.count / max(1, tokens))")
        }
        activation.withUnsafeMutableBufferPointer { g in
            up.withUnsafeBufferPointer { u in ForwardKernels.gatedActivation(graph.config.activation, gate: g, up: u) }
        }
        observe(mlp.down, expert: expert, input: activation, rows: tokens)
        return try project(activation, tokens: tokens, mlp.down, bias: nil, inputSize: activation.count / max(1, tokens))
    }

    /// Hands a matrix multiplication's input to the observer, if any.
    func observe(_ weight: GraphTensor, expert: Int? = nil, input: [Float], rows: Int) {
        options.observer?.observe(weight: weight, expert: expert, input: input, rows: rows)
    }

    /// A mixture of experts, as transformers routes it: router logits, a
    /// softmax in F32, the top-k experts per token (descending probability,
    /// lower index first on ties), their probabilities renormalised when the
    /// config says so; each expert runs on the tokens routed to it, and its
    /// output is added times its weight, experts in ascending order; then the
    /// shared expert, scaled by `sigmoid(x · shared_expert_gate)`.
    /// - Returns: the block's output `[T, D]` and the chosen experts `[T, k]`.
    func runExperts(_ x: [Float], tokens T: Int, _ block: ExpertTensors) throws -> ([Float], [Int]) {
        let config = graph.config
        guard let settings = config.experts else {
            throw ForwardError.badTensor(path: graph.sourcePath, tensor: block.router.name, problem: "experts without an expert configuration")
        }
        let D = config.hiddenSize, E = block.experts.count, k = settings.perToken
        observe(block.router, input: x, rows: T)
        let logits = try project(x, tokens: T, block.router, bias: nil, inputSize: D)
        guard logits.count == T * E, k <= E else {
            throw ForwardError.badTensor(path: graph.sourcePath, tensor: block.router.name, problem: "\(logits.count / max(1, T)) router rows for \(E) experts")
        }
        var assigned = [[(token: Int, weight: Float)]](repeating: [], count: E)
        var chosen = [Int](repeating: 0, count: T * k)
        for t in 0..<T {
            let row = logits[(t * E)..<((t + 1) * E)]
            let maximum = row.max() ?? 0
            var probabilities = row.map { expf($0 - maximum) }
            let sum = probabilities.reduce(0, +)
            for e in probabilities.indices { probabilities[e] /= sum }
            let top = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] || (probabilities[$0] == probabilities[$1] && $0 < $1) }.prefix(k)
            var weights = top.map { probabilities[$0] }
            if settings.normalizesTopK {
                let total = weights.reduce(0, +)
                weights = weights.map { $0 / total }
            }
            for (slot, (expert, weight)) in zip(top, weights).enumerated() {
                assigned[expert].append((t, weight))
                chosen[t * k + slot] = expert
            }
        }
        var output = [Float](repeating: 0, count: T * D)
        for (expert, routed) in assigned.enumerated() where !routed.isEmpty {
            var input = [Float](repeating: 0, count: routed.count * D)
            for (row, entry) in routed.enumerated() {
                input.replaceSubrange((row * D)..<((row + 1) * D), with: x[(entry.token * D)..<((entry.token + 1) * D)])
            }
            let result = try runMLP(input, tokens: routed.count, block.experts[expert], expert: expert)
            for (row, entry) in routed.enumerated() {
                for i in 0..<D { output[entry.token * D + i] += result[row * D + i] * entry.weight }
            }
        }
        if let shared = block.shared, let sharedGate = block.sharedGate {
            let result = try runMLP(x, tokens: T, shared, expert: nil)
            observe(sharedGate, input: x, rows: T)
            let scale = try project(x, tokens: T, sharedGate, bias: nil, inputSize: D)
            for t in 0..<T {
                let factor = ForwardKernels.sigmoid(scale[t])
                for i in 0..<D { output[t * D + i] += factor * result[t * D + i] }
            }
        }
        return (output, chosen)
    }

    /// Which gate a layer has, from its tensors (the row count of q_proj or
    /// a gate tensor) checked against the config's gate.
    func layerGate(_ layer: DecoderLayer) throws -> LayerGate {
        let config = graph.config
        guard let query = layer.queryProjection else { return .none }
        let plainRows = config.queryRows + (layer[.queryKeyValue] != nil ? 2 * config.keyValueRows : 0)
        let extraRows = query.rows - plainRows
        if let gateTensor = layer.separateGate {
            let granularity: GateGranularity
            if let spec = config.gate, spec.layout == .separate {
                granularity = spec.granularity
            } else {
                granularity = gateTensor.rows == config.headCount ? .headwise : .elementwise
            }
            guard gateTensor.rows == config.gateRows(granularity), gateTensor.shape.last == config.hiddenSize else {
                throw ForwardError.badTensor(path: graph.sourcePath, tensor: gateTensor.name, problem: "shape \(gateTensor.shape) is not a \(granularity.rawValue) gate")
            }
            return .separate(granularity)
        }
        if extraRows == 0 { return .none }
        guard let spec = config.gate, spec.layout != .separate, extraRows == config.gateRows(spec.granularity), layer[.query] != nil else {
            throw ForwardError.badTensor(path: graph.sourcePath, tensor: query.name, problem: "\(query.rows) rows match neither \(plainRows) projections nor the config's gate")
        }
        if spec.layout == .qwen3Next && spec.granularity == .headwise {
            throw ForwardError.badTensor(path: graph.sourcePath, tensor: query.name, problem: "the qwen3-next layout is elementwise only")
        }
        guard let layout = FusedQueryLayout(spec, heads: config.headCount, kvHeads: config.kvHeadCount, headDim: config.headDim),
            layout.rowCount == query.rows
        else {
            throw ForwardError.badTensor(path: graph.sourcePath, tensor: query.name, problem: "rows do not match the \(spec.layout.rawValue) layout")
        }
        return .fused(layout)
    }

    /// The cos and sin tables of `rope` for `positions` positions: its
    /// inverse frequencies (divided by llama.cpp's `rope_freqs.weight` when
    /// the graph carries one that no config scaling reproduces), times its
    /// attention factor, as transformers computes them in F32.
    func ropeTables(_ rope: RoPE, positions: Int) throws -> RopeTables {
        let config = graph.config
        let dimensions = config.rotaryDimensions
        var frequencies: [Float]
        if let divisors = graph.passthrough.first(where: { $0.name == "rope_freqs.weight" }), rope.scaling == nil || rope.isLlama3 {
            // llama.cpp's encoding of Llama 3 scaling, applied as llama.cpp applies it.
            frequencies = RoPE(theta: rope.theta).inverseFrequencies(dimensions: dimensions, sequenceLength: positions, maxPositionEmbeddings: config.maxPositionEmbeddings)
            let factors = try divisors.values()
            guard factors.count == frequencies.count else {
                throw ForwardError.badTensor(path: graph.sourcePath, tensor: divisors.name, problem: "\(factors.count) values for \(frequencies.count) rotary frequencies")
            }
            for i in frequencies.indices { frequencies[i] /= factors[i] }
        } else {
            frequencies = rope.inverseFrequencies(dimensions: dimensions, sequenceLength: positions, maxPositionEmbeddings: config.maxPositionEmbeddings)
        }
        let scale = rope.attentionFactor(maxPositionEmbeddings: config.maxPositionEmbeddings)
        let half = frequencies.count
        var cos = [Float](repeating: 0, count: positions * half)
        var sin = [Float](repeating: 0, count: positions * half)
        for t in 0..<positions {
            for i in 0..<half {
                // transformers: inv_freq @ position_ids in F32, then cos / sin in F32, times attention_scaling.
                let angle = Float(t) * frequencies[i]
                cos[t * half + i] = scale == 1 ? cosf(angle) : cosf(angle) * scale
                sin[t * half + i] = scale == 1 ? sinf(angle) : sinf(angle) * scale
            }
        }
        return (cos, sin)
    }

    /// `x W^T + b` for a weight read from its mapping or decoded now and dropped after.
    func project(_ x: [Float], tokens: Int, _ weight: GraphTensor, bias: GraphTensor?, inputSize: Int) throws -> [Float] {
        guard weight.expression.rowElements == inputSize else {
            throw ForwardError.badTensor(path: graph.sourcePath, tensor: weight.name, problem: "rows have \(weight.expression.rowElements) values, expected \(inputSize)")
        }
        let outputs = weight.expression.rowCount
        let b = try bias.map { try decode($0, expecting: outputs) }
        var y = [Float](repeating: 0, count: tokens * outputs)
        try ForwardPass.withWeights(weight, rows: 0..<outputs) { wp in
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    if let b {
                        b.withUnsafeBufferPointer { bp in
                            ForwardKernels.linear(xp, tokens: tokens, inputSize: inputSize, weight: wp, outputSize: outputs, bias: bp, into: yp)
                        }
                    } else {
                        ForwardKernels.linear(xp, tokens: tokens, inputSize: inputSize, weight: wp, outputSize: outputs, into: yp)
                    }
                }
            }
        }
        return y
    }

    func rmsNorm(_ x: [Float], rows: Int, size: Int, weight: [Float], into y: inout [Float]) {
        let epsilon = Float(graph.config.rmsNormEps)
        let zeroCentered = graph.config.zeroCenteredNorms
        x.withUnsafeBufferPointer { xp in
            weight.withUnsafeBufferPointer { wp in
                y.withUnsafeMutableBufferPointer { yp in
                    ForwardKernels.rmsNorm(xp, rows: rows, size: size, weight: wp, epsilon: epsilon, zeroCentered: zeroCentered, into: yp)
                }
            }
        }
    }

    /// A small tensor's values, checked to have `count` of them.
    func decode(_ tensor: GraphTensor, expecting count: Int) throws -> [Float] {
        let values = try tensor.values()
        guard values.count == count else {
            throw ForwardError.badTensor(path: graph.sourcePath, tensor: tensor.name, problem: "\(values.count) values, expected \(count)")
        }
        return values
    }

    /// Calls `body` with the F32 values of rows `rows` of a tensor: borrowed
    /// from the mapped file when it stores them as they are (F32, aligned,
    /// little-endian host), decoded otherwise. Pages are released after a
    /// whole tensor, as `decode` does.
    static func withWeights<R>(_ tensor: GraphTensor, rows: Range<Int>, _ body: (UnsafeBufferPointer<Float>) throws -> R) throws -> R {
        #if _endian(little)
        if case .stored(let stored) = tensor.expression, stored.dtype == .f32 {
            let rowBytes = stored.rowLength * 4
            let bytes = (stored.byteRange.lowerBound + rows.lowerBound * rowBytes)..<(stored.byteRange.lowerBound + rows.upperBound * rowBytes)
            let aligned = stored.file.withBytes(in: bytes) { Int(bitPattern: $0.baseAddress) % MemoryLayout<Float>.alignment == 0 }
            if aligned && stored.byteCount == stored.elementCount * 4 {
                stored.file.prefetch(bytes)
                let result = try stored.file.withBytes(in: bytes) { raw in
                    try body(UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: Float.self), count: rows.count * stored.rowLength))
                }
                if rows == 0..<tensor.expression.rowCount { tensor.expression.releaseSourcePages() }
                return result
            }
        }
        #endif
        return try WeightBuffers.shared.withBuffer(count: rows.count * tensor.expression.rowElements) { buffer in
            try decode(tensor, rows: rows, into: buffer)
            return try body(UnsafeBufferPointer(buffer))
        }
    }

    /// The F32 values of rows `rows` of a tensor, decoded in parallel blocks.
    static func decode(_ tensor: GraphTensor, rows: Range<Int>) throws -> [Float] {
        let count = rows.count * tensor.expression.rowElements
        // Every element is written (or the call throws): no zeroing first.
        var result = [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
        try result.withUnsafeMutableBufferPointer { try decode(tensor, rows: rows, into: $0) }
        return result
    }

    /// Decodes rows `rows` of a tensor into `output` (exactly their values), in parallel blocks.
    static func decode(_ tensor: GraphTensor, rows: Range<Int>, into output: UnsafeMutableBufferPointer<Float>) throws {
        let expression = tensor.expression
        let rowElements = expression.rowElements
        precondition(output.count == rows.count * rowElements)
        let blockCount = max(1, min(rows.count, Parallel.workerCount * 4))
        let rowsPerBlock = (rows.count + blockCount - 1) / blockCount
        let blocks = rows.isEmpty ? 0 : (rows.count + rowsPerBlock - 1) / rowsPerBlock
        var failures = [(any Error)?](repeating: nil, count: blocks)
        let stored = expression.storedTensor
        failures.withUnsafeMutableBufferPointer { errors in
            guard let outputBase = output.baseAddress, let errorBase = errors.baseAddress else { return }
            Parallel.forEach(blocks) { block in
                let start = rows.lowerBound + block * rowsPerBlock
                let end = min(rows.upperBound, start + rowsPerBlock)
                do {
                    if let stored, stored.byteCount % max(1, expression.rowCount) == 0 {
                        // Decoded straight into place: no array per block to fill and copy.
                        let rowBytes = stored.byteCount / max(1, expression.rowCount)
                        let bytes = (stored.byteRange.lowerBound + start * rowBytes)..<(stored.byteRange.lowerBound + end * rowBytes)
                        let destination = UnsafeMutableBufferPointer(start: outputBase + (start - rows.lowerBound) * rowElements, count: (end - start) * rowElements)
                        try stored.file.withBytes(in: bytes) { source in
                            try ElementConversion.decode(source, as: stored.dtype, into: destination)
                        }
                        return
                    }
                    let values = try expression.rowValues(start..<end)
                    precondition(values.count == (end - start) * rowElements)
                    values.withUnsafeBufferPointer { source in
                        (outputBase + (start - rows.lowerBound) * rowElements).update(from: source.baseAddress!, count: source.count)
                    }
                } catch {
                    errorBase[block] = error
                }
            }
        }
        if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
        if rows == 0..<expression.rowCount { expression.releaseSourcePages() }
    }
}

/// Buffers for decoded weights, kept for the next weight: decoding into
/// fresh memory costs a page fault and a zeroed page per 4 KiB, a quarter of
/// the forward pass of a BF16 or quantized model. One is kept (grown to the
/// largest weight, the smaller freed first), so peak memory stays the
/// largest decoded weight, as without it.
final class WeightBuffers: Sendable {
    static let shared = WeightBuffers()
    private let free = Locked<[Int]>([])

    /// Calls `body` with a buffer of exactly `count` floats (uninitialized).
    func withBuffer<R>(count: Int, _ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        let (taken, tooSmall): ((address: Int, capacity: Int)?, [Int]) = free.withLock { buffers in
            guard let index = buffers.indices.first(where: { Self.capacity(of: buffers[$0]) >= count }) else {
                // Free the smaller ones before allocating, so they never coexist with the new one.
                defer { buffers.removeAll() }
                return (nil, buffers)
            }
            let address = buffers.remove(at: index)
            return ((address, Self.capacity(of: address)), [])
        }
        for address in tooSmall { (UnsafeMutableRawPointer(bitPattern: address)! - 64).deallocate() }
        let capacity = taken?.capacity ?? count
        let base = taken.map { UnsafeMutablePointer<Float>(bitPattern: $0.address)! } ?? Self.allocate(capacity)
        defer { give(base, capacity: capacity) }
        return try body(UnsafeMutableBufferPointer(start: base, count: count))
    }

    // A buffer's capacity is stored in the 64 bytes before its floats.
    private static func allocate(_ capacity: Int) -> UnsafeMutablePointer<Float> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: 64 + max(1, capacity) * 4, alignment: 64)
        raw.storeBytes(of: capacity, as: Int.self)
        return (raw + 64).assumingMemoryBound(to: Float.self)
    }

    private static func capacity(of address: Int) -> Int {
        (UnsafeRawPointer(bitPattern: address)! - 64).load(as: Int.self)
    }

    private func give(_ base: UnsafeMutablePointer<Float>, capacity: Int) {
        let dropped: [Int] = free.withLock { buffers in
            buffers.append(Int(bitPattern: base))
            buffers.sort { Self.capacity(of: $0) > Self.capacity(of: $1) }
            let extra = Array(buffers.dropFirst(1))
            buffers.removeLast(extra.count)
            return extra
        }
        for address in dropped { (UnsafeMutableRawPointer(bitPattern: address)! - 64).deallocate() }
    }
}
