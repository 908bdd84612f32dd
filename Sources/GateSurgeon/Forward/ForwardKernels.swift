import Platform
import Dispatch

/// The F32 kernels of the reference forward pass.
///
/// Each kernel takes raw buffers and opens one unsafe scope per call. The
/// products (`linear`, and attention's scores and weighted values) run as
/// blocked matrix products on the AVX2 / AVX-512 kernels of
/// `VectorKernels.gemm` where the CPU has them, spread over the cores by
/// blocks of output columns; elsewhere (and at `level: .portable`, which the
/// tests compare against) on `SIMD4<Float>` loops (the SSE2 baseline of
/// x86-64, NEON on arm64) with independent accumulators.
///
/// Reference: PyTorch's F32 CPU ops as transformers' eager modeling code
/// calls them. Results agree to rounding, not bit for bit: summation order
/// differs (tested to 1e-4 on logits of magnitude ~4, measured ~1e-6).
enum ForwardKernels {
    @inline(__always)
    static func load4(_ pointer: UnsafePointer<Float>, _ offset: Int) -> SIMD4<Float> {
        UnsafeRawPointer(pointer + offset).loadUnaligned(as: SIMD4<Float>.self)
    }

    /// The dot product of two length-`count` vectors.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        var s0 = SIMD4<Float>(), s1 = SIMD4<Float>()
        var k = 0
        while k &+ 8 <= count {
            s0 += load4(a, k) * load4(b, k)
            s1 += load4(a, k &+ 4) * load4(b, k &+ 4)
            k &+= 8
        }
        while k &+ 4 <= count {
            s0 += load4(a, k) * load4(b, k)
            k &+= 4
        }
        var sum = (s0 + s1).sum()
        while k < count {
            sum += a[k] * b[k]
            k &+= 1
        }
        return sum
    }

    /// A PyTorch `Linear` over `tokens` rows: `y[t, n] = sum_k x[t, k] * w[n, k] + bias[n]`.
    ///
    /// `x` is `[tokens, inputSize]`, `w` is `[outputSize, inputSize]` (row-major,
    /// PyTorch order), `y` row `t` starts at `t * outputStride` (so a block of
    /// lm_head rows can fill its columns of the logits).
    /// - Complexity: O(tokens * inputSize * outputSize), over all cores.
    static func linear(
        _ x: UnsafeBufferPointer<Float>, tokens: Int, inputSize: Int,
        weight w: UnsafeBufferPointer<Float>, outputSize: Int, bias: UnsafeBufferPointer<Float>? = nil,
        into y: UnsafeMutableBufferPointer<Float>, outputStride: Int? = nil, level: VectorKernels.Level = VectorKernels.best
    ) {
        let stride = outputStride ?? outputSize
        precondition(x.count >= tokens * inputSize && w.count >= outputSize * inputSize)
        precondition(tokens == 0 || y.count >= (tokens - 1) * stride + outputSize)
        precondition(bias == nil || bias!.count >= outputSize)
        guard tokens > 0, outputSize > 0 else { return }
        if level > .portable, inputSize > 0 {
            VectorKernels.parallelGemm(
                level: level, a: x.baseAddress!, lda: inputSize, m: tokens, k: inputSize, b: w.baseAddress!, ldb: inputSize,
                transposed: true, bias: bias?.baseAddress, c: y.baseAddress!, ldc: stride, n: outputSize)
            return
        }
        let K = inputSize
        let xBase = x.baseAddress!, wBase = w.baseAddress!, yBase = y.baseAddress!
        let biasBase = bias?.baseAddress
        // Blocks of 4 rows; enough blocks per core to balance the load.
        let quads = (outputSize + 3) / 4
        let blockCount = min(quads, Parallel.workerCount * 8)
        let quadsPerBlock = (quads + blockCount - 1) / blockCount
        Parallel.forEach((quads + quadsPerBlock - 1) / quadsPerBlock) { block in
            let start = block * quadsPerBlock * 4
            let end = min(outputSize, start + quadsPerBlock * 4)
            var n = start
            while n &+ 4 <= end {
                let w0 = wBase + (n &* K), w1 = w0 + K, w2 = w1 + K, w3 = w2 + K
                var b = SIMD4<Float>()
                if let biasBase { b = SIMD4(biasBase[n], biasBase[n &+ 1], biasBase[n &+ 2], biasBase[n &+ 3]) }
                var t = 0
                // 4 rows x 2 tokens: each weight load feeds two tokens.
                while t &+ 2 <= tokens {
                    let x0 = xBase + (t &* K), x1 = x0 + K
                    var a00 = SIMD4<Float>(), a10 = SIMD4<Float>(), a20 = SIMD4<Float>(), a30 = SIMD4<Float>()
                    var a01 = SIMD4<Float>(), a11 = SIMD4<Float>(), a21 = SIMD4<Float>(), a31 = SIMD4<Float>()
                    var k = 0
                    while k &+ 4 <= K {
                        let v0 = load4(x0, k), v1 = load4(x1, k)
                        let r0 = load4(w0, k), r1 = load4(w1, k), r2 = load4(w2, k), r3 = load4(w3, k)
                        a00 += r0 * v0; a01 += r0 * v1
                        a10 += r1 * v0; a11 += r1 * v1
                        a20 += r2 * v0; a21 += r2 * v1
                        a30 += r3 * v0; a31 += r3 * v1
                        k &+= 4
                    }
                    var s0 = SIMD4(a00.sum(), a10.sum(), a20.sum(), a30.sum())
                    var s1 = SIMD4(a01.sum(), a11.sum(), a21.sum(), a31.sum())
                    while k < K {
                        let v0 = x0[k], v1 = x1[k]
                        s0 += SIMD4(w0[k], w1[k], w2[k], w3[k]) * v0
                        s1 += SIMD4(w0[k], w1[k], w2[k], w3[k]) * v1
                        k &+= 1
                    }
                    s0 += b
                    s1 += b
                    let y0 = yBase + (t &* stride &+ n), y1 = y0 + stride
                    y0[0] = s0[0]; y0[1] = s0[1]; y0[2] = s0[2]; y0[3] = s0[3]
                    y1[0] = s1[0]; y1[1] = s1[1]; y1[2] = s1[2]; y1[3] = s1[3]
                    t &+= 2
                }
                if t < tokens {
                    let x0 = xBase + (t &* K)
                    let y0 = yBase + (t &* stride &+ n)
                    y0[0] = dot(w0, x0, K) + b[0]
                    y0[1] = dot(w1, x0, K) + b[1]
                    y0[2] = dot(w2, x0, K) + b[2]
                    y0[3] = dot(w3, x0, K) + b[3]
                }
                n &+= 4
            }
            while n < end {
                let row = wBase + (n &* K)
                let b = biasBase?[n] ?? 0
                for t in 0..<tokens {
                    yBase[t &* stride &+ n] = dot(row, xBase + (t &* K), K) + b
                }
                n &+= 1
            }
        }
    }

    /// RMSNorm of each length-`size` row of `x` into `y`, as transformers
    /// computes it in F32: `x * rsqrt(mean(x^2) + eps) * w`, or
    /// `* (1 + w)` for zero-centred weights (Qwen3-Next / Qwen3.5).
    static func rmsNorm(
        _ x: UnsafeBufferPointer<Float>, rows: Int, size: Int, weight: UnsafeBufferPointer<Float>,
        epsilon: Float, zeroCentered: Bool, into y: UnsafeMutableBufferPointer<Float>
    ) {
        precondition(x.count >= rows * size && y.count >= rows * size && weight.count >= size)
        guard rows > 0, size > 0 else { return }
        let xBase = x.baseAddress!, yBase = y.baseAddress!, wBase = weight.baseAddress!
        for row in 0..<rows {
            let input = xBase + (row &* size), output = yBase + (row &* size)
            let meanSquare = dot(input, input, size) / Float(size)
            let scale = 1 / (meanSquare + epsilon).squareRoot()
            if zeroCentered {
                for i in 0..<size { output[i] = (input[i] * scale) * (1 + wBase[i]) }
            } else {
                for i in 0..<size { output[i] = wBase[i] * (input[i] * scale) }
            }
        }
    }

    /// `sigmoid(x)` as PyTorch computes it in F32.
    @inline(__always)
    static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

    /// A gated MLP's activation in place: `gate[i] = act(gate[i]) * up[i]`,
    /// with `act` SiLU (`x / (1 + exp(-x))`) or PyTorch's tanh-approximated
    /// GELU (`0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`, its F32 CPU kernel's
    /// operation order).
    static func gatedActivation(_ activation: Activation, gate: UnsafeMutableBufferPointer<Float>, up: UnsafeBufferPointer<Float>) {
        precondition(up.count >= gate.count)
        let count = gate.count
        guard count > 0 else { return }
        let g = gate.baseAddress!, u = up.baseAddress!
        let chunk = max(4096, (count + Parallel.workerCount - 1) / Parallel.workerCount)
        Parallel.forEach((count + chunk - 1) / chunk) { part in
            let start = part * chunk, end = min(count, start + chunk)
            switch activation {
            case .silu:
                for i in start..<end {
                    let value = g[i]
                    g[i] = value / (1 + expf(-value)) * u[i]
                }
            case .geluTanh:
                let beta = Float(2.0.squareRoot() * (2 / Double.pi.squareRoot()) * 0.5), kappa: Float = 0.044715
                for i in start..<end {
                    let x = g[i]
                    let inner = beta * (x + kappa * (x * x * x))
                    g[i] = (0.5 * x * (1 + tanhf(inner))) * u[i]
                }
            }
        }
    }

    /// Rotate-half RoPE on the first `2 * cos.count / positions` dimensions of
    /// each head, in place. `values` is `[positions, heads * headDim]`;
    /// `cos` and `sin` are `[positions, rotaryDimensions / 2]`.
    static func applyRope(
        _ values: UnsafeMutableBufferPointer<Float>, positions: Int, heads: Int, headDim: Int,
        cos: UnsafeBufferPointer<Float>, sin: UnsafeBufferPointer<Float>, rowStride: Int? = nil
    ) {
        let half = positions == 0 ? 0 : cos.count / positions
        guard half > 0 else { return }
        let stride = rowStride ?? heads * headDim
        let v = values.baseAddress!, c = cos.baseAddress!, s = sin.baseAddress!
        for t in 0..<positions {
            for h in 0..<heads {
                let head = v + (t &* stride &+ h &* headDim)
                for i in 0..<half {
                    let x1 = head[i], x2 = head[i &+ half]
                    let cosine = c[t &* half &+ i], sine = s[t &* half &+ i]
                    // q * cos + rotate_half(q) * sin, rotate_half(q) = cat(-x2, x1).
                    head[i] = x1 * cosine + (-x2) * sine
                    head[i &+ half] = x2 * cosine + x1 * sine
                }
            }
        }
    }

    /// Scores `w[first...last]`, whose largest is `maximum`, turned into
    /// probabilities in place (max-subtracted, as transformers computes
    /// softmax), and the masked `w[0..<first]` set to 0; one definition for
    /// the reference and the blocked attention.
    @inline(__always)
    static func softmax(_ w: UnsafeMutablePointer<Float>, from first: Int, through last: Int, maximum: Float) {
        var total: Float = 0
        for s in first...last {
            let e = expf(w[s] - maximum)
            w[s] = e
            total += e
        }
        let inverse = 1 / total
        for s in first...last { w[s] *= inverse }
        for s in 0..<first { w[s] = 0 }
    }

    /// Which keys a query sees and how its scores are formed: `s = q·k *
    /// scale`, soft-capped to `c * tanh(s / c)` (Gemma 2, in that order as
    /// transformers does), and keys older than the window masked.
    struct AttentionMask: Sendable {
        var scale: Float
        var softcap: Float?
        /// Keys a query sees, its own included (transformers' `kv_idx > q_idx - window`); nil for all earlier ones.
        var window: Int?

        /// The first key position query `t` sees.
        @inline(__always)
        func firstKey(for t: Int) -> Int {
            guard let window else { return 0 }
            return max(0, t - window + 1)
        }

        /// A raw product `q·k` turned into the score the softmax takes.
        @inline(__always)
        func score(_ product: Float) -> Float {
            let scaled = product * scale
            guard let softcap else { return scaled }
            return tanhf(scaled / softcap) * softcap
        }
    }

    /// Causal scaled dot-product attention with grouped KV heads, as
    /// transformers' eager attention: `softmax(mask(q k^T)) v` with the
    /// scale, soft-cap and window of `mask`, the softmax in F32 (subtract
    /// the max, exponentiate, multiply by 1 / sum).
    ///
    /// `q` is `[tokens, heads * headDim]`, `k` and `v` are
    /// `[tokens, kvHeads * headDim]`, `out` is `[tokens, heads * headDim]`.
    /// Query head `h` reads KV head `h / (heads / kvHeads)`. When given,
    /// `probabilities` receives the weights as `[heads, tokens, tokens]`
    /// (zeros above the diagonal). `firstTokenSums[h]` receives the sum over
    /// queries `1..<tokens` of the weight on position 0.
    /// - Complexity: O(heads * tokens^2 * headDim), heads in parallel.
    static func causalAttention(
        query q: UnsafeBufferPointer<Float>, key k: UnsafeBufferPointer<Float>, value v: UnsafeBufferPointer<Float>,
        tokens: Int, heads: Int, kvHeads: Int, headDim: Int, mask: AttentionMask,
        into out: UnsafeMutableBufferPointer<Float>,
        probabilities: UnsafeMutableBufferPointer<Float>?,
        firstTokenSums: UnsafeMutableBufferPointer<Double>, level: VectorKernels.Level = VectorKernels.best
    ) {
        let d = headDim, groupSize = heads / kvHeads
        let qStride = heads * d, kvStride = kvHeads * d
        precondition(q.count >= tokens * qStride && k.count >= tokens * kvStride && v.count >= tokens * kvStride)
        precondition(out.count >= tokens * qStride && firstTokenSums.count >= heads)
        precondition(probabilities == nil || probabilities!.count >= heads * tokens * tokens)
        guard tokens > 0 else { return }
        if level > .portable, d > 0 {
            blockedCausalAttention(
                query: q, key: k, value: v, tokens: tokens, heads: heads, kvHeads: kvHeads, headDim: d, mask: mask,
                into: out, probabilities: probabilities, firstTokenSums: firstTokenSums, level: level)
            return
        }
        let qBase = q.baseAddress!, kBase = k.baseAddress!, vBase = v.baseAddress!, outBase = out.baseAddress!
        let probabilityBase = probabilities?.baseAddress
        let sums = firstTokenSums.baseAddress!
        Parallel.forEach(heads) { h in
            let kvHead = h / groupSize
            var weights = [Float](repeating: 0, count: tokens)
            var firstTokenSum = 0.0
            weights.withUnsafeMutableBufferPointer { w in
                let wBase = w.baseAddress!
                for t in 0..<tokens {
                    let query = qBase + (t &* qStride &+ h &* d)
                    let first = mask.firstKey(for: t)
                    var maximum = -Float.infinity
                    for s in first...t {
                        let score = mask.score(dot(query, kBase + (s &* kvStride &+ kvHead &* d), d))
                        wBase[s] = score
                        maximum = max(maximum, score)
                    }
                    softmax(wBase, from: first, through: t, maximum: maximum)
                    if t > 0 { firstTokenSum += Double(wBase[0]) }
                    if let probabilityBase {
                        let row = probabilityBase + ((h &* tokens &+ t) &* tokens)
                        for s in 0..<tokens { row[s] = s <= t ? wBase[s] : 0 }
                    }
                    let output = outBase + (t &* qStride &+ h &* d)
                    for i in 0..<d { output[i] = 0 }
                    for s in first...t {
                        let p = wBase[s]
                        let value = vBase + (s &* kvStride &+ kvHead &* d)
                        var i = 0
                        while i &+ 4 <= d {
                            let sum = load4(UnsafePointer(output), i) + load4(value, i) * p
                            UnsafeMutableRawPointer(output + i).storeBytes(of: sum, as: SIMD4<Float>.self)
                            i &+= 4
                        }
                        while i < d {
                            output[i] += p * value[i]
                            i &+= 1
                        }
                    }
                }
            }
            sums[h] = firstTokenSum
        }
    }

    /// Queries at a time in `blockedCausalAttention`: 64 rows of scores
    /// against every earlier key stay in the cache for both products.
    static let attentionQueryBlock = 64

    /// `causalAttention` as matrix products on the vector kernels: for each
    /// head and block of queries, the scores against the keys up to the
    /// block's last query (`Q K^T`), the softmax of each row up to its own
    /// position (the same F32 operations in the same order as the loop
    /// version), then the weights times the values (`P V`, zero weights past
    /// the diagonal). Jobs are (head, query block) pairs, so long prompts
    /// use every core and memory holds one block of scores per thread.
    /// - Complexity: O(heads * tokens^2 * headDim), over all cores.
    static func blockedCausalAttention(
        query q: UnsafeBufferPointer<Float>, key k: UnsafeBufferPointer<Float>, value v: UnsafeBufferPointer<Float>,
        tokens: Int, heads: Int, kvHeads: Int, headDim d: Int, mask: AttentionMask,
        into out: UnsafeMutableBufferPointer<Float>, probabilities: UnsafeMutableBufferPointer<Float>?,
        firstTokenSums: UnsafeMutableBufferPointer<Double>, level: VectorKernels.Level
    ) {
        let groupSize = heads / kvHeads
        let qStride = heads * d, kvStride = kvHeads * d
        let qBase = q.baseAddress!, kBase = k.baseAddress!, vBase = v.baseAddress!, outBase = out.baseAddress!
        let probabilityBase = probabilities?.baseAddress
        let block = attentionQueryBlock
        let blocksPerHead = (tokens + block - 1) / block
        // The weight each query gives position 0, summed per head afterwards
        // in query order (the order of the loop version).
        var firstWeights = [Float](repeating: 0, count: heads * tokens)
        firstWeights.withUnsafeMutableBufferPointer { first in
            let firstBase = first.baseAddress!
            Parallel.forEach(heads * blocksPerHead) { job in
                let h = job / blocksPerHead, t0 = (job % blocksPerHead) * block
                let t1 = min(tokens, t0 + block), rows = t1 - t0
                let kvHead = h / groupSize
                let scores = UnsafeMutablePointer<Float>.allocate(capacity: rows * t1)
                defer { scores.deallocate() }
                VectorKernels.gemm(
                    level: level, a: qBase + t0 * qStride + h * d, lda: qStride, m: rows, k: d,
                    b: kBase + kvHead * d, ldb: kvStride, transposed: true, bias: nil, c: scores, ldc: t1, columns: 0..<t1)
                for r in 0..<rows {
                    let t = t0 + r
                    let w = scores + r * t1
                    let first = mask.firstKey(for: t)
                    var maximum = -Float.infinity
                    for s in first...t {
                        let score = mask.score(w[s])
                        w[s] = score
                        maximum = max(maximum, score)
                    }
                    softmax(w, from: first, through: t, maximum: maximum)
                    for s in (t + 1)..<t1 { w[s] = 0 }
                    firstBase[h * tokens + t] = w[0]
                    if let probabilityBase {
                        let row = probabilityBase + ((h * tokens + t) * tokens)
                        row.update(from: w, count: t1)
                        for s in t1..<tokens { row[s] = 0 }
                    }
                }
                VectorKernels.gemm(
                    level: level, a: scores, lda: t1, m: rows, k: t1, b: vBase + kvHead * d, ldb: kvStride,
                    transposed: false, bias: nil, c: outBase + t0 * qStride + h * d, ldc: qStride, columns: 0..<d)
            }
            for h in 0..<heads {
                var sum = 0.0
                for t in 1..<max(1, tokens) { sum += Double(firstBase[h * tokens + t]) }
                firstTokenSums[h] = sum
            }
        }
    }
}
