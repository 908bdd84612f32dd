import Platform

@testable import GateSurgeon
import Testing

/// The forward kernels on shapes the fixture models do not reach: row counts
/// that are not a multiple of 4, odd token counts, inner sizes that are not
/// a multiple of the SIMD width, strided output.
@Suite("Forward kernels")
struct ForwardKernelTests {
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 24) - 0.5
        }
    }

    /// Against a Double reference, on every kernel level the CPU has: F32
    /// sums of at most 70 products of values below 0.5 in magnitude are
    /// within 1e-5. The shapes cross the vector kernels' tile edges (6 and 3
    /// tokens, panels of 32 columns).
    @Test(arguments: VectorKernels.Level.all, [(1, 1, 1), (3, 13, 7), (2, 8, 4), (5, 37, 10), (4, 4, 9), (7, 3, 2), (13, 70, 45), (6, 16, 64)])
    func linearMatchesNaiveProduct(level: VectorKernels.Level, shape: (Int, Int, Int)) throws {
        try level.requireOnThisCPU()
        let (tokens, inputSize, outputSize) = shape
        let x = Self.values(tokens * inputSize, seed: 1), w = Self.values(outputSize * inputSize, seed: 2)
        let bias = Self.values(outputSize, seed: 3)
        let stride = outputSize + 3
        for withBias in [false, true] {
            var y = [Float](repeating: -99, count: tokens * stride)
            x.withUnsafeBufferPointer { xp in
                w.withUnsafeBufferPointer { wp in
                    bias.withUnsafeBufferPointer { bp in
                        y.withUnsafeMutableBufferPointer { yp in
                            ForwardKernels.linear(xp, tokens: tokens, inputSize: inputSize, weight: wp, outputSize: outputSize,
                                                  bias: withBias ? bp : nil, into: yp, outputStride: stride, level: level)
                        }
                    }
                }
            }
            for t in 0..<tokens {
                for n in 0..<outputSize {
                    var expected = withBias ? Double(bias[n]) : 0
                    for k in 0..<inputSize { expected += Double(x[t * inputSize + k]) * Double(w[n * inputSize + k]) }
                    #expect(abs(Double(y[t * stride + n]) - expected) <= 1e-5)
                }
                for n in outputSize..<stride { #expect(y[t * stride + n] == -99) }
            }
        }
    }

    /// Causal GQA attention against a Double reference, on every kernel
    /// level (1e-6: softmax of small scores and sums of a few products; 70
    /// tokens span two query blocks of the blocked version).
    @Test(arguments: VectorKernels.Level.all, [(1, 2, 1, 4), (5, 4, 2, 6), (3, 3, 3, 5), (70, 2, 1, 8)])
    func attentionMatchesNaive(level: VectorKernels.Level, shape: (Int, Int, Int, Int)) throws {
        try level.requireOnThisCPU()
        let (T, H, K, d) = shape
        let q = Self.values(T * H * d, seed: 4), k = Self.values(T * K * d, seed: 5), v = Self.values(T * K * d, seed: 6)
        var out = [Float](repeating: 0, count: T * H * d)
        var probabilities = [Float](repeating: -1, count: H * T * T)
        var sums = [Double](repeating: 0, count: H)
        let scale = Float(1 / Double(d).squareRoot())
        q.withUnsafeBufferPointer { qp in
            k.withUnsafeBufferPointer { kp in
                v.withUnsafeBufferPointer { vp in
                    out.withUnsafeMutableBufferPointer { op in
                        probabilities.withUnsafeMutableBufferPointer { pp in
                            sums.withUnsafeMutableBufferPointer { sp in
                                ForwardKernels.causalAttention(query: qp, key: kp, value: vp, tokens: T, heads: H, kvHeads: K, headDim: d,
                                                               mask: .init(scale: scale), into: op, probabilities: pp, firstTokenSums: sp, level: level)
                            }
                        }
                    }
                }
            }
        }
        for h in 0..<H {
            let g = h / (H / K)
            var firstTokenSum = 0.0
            for t in 0..<T {
                var scores = (0...t).map { s in
                    (0..<d).reduce(0.0) { $0 + Double(q[(t * H + h) * d + $1]) * Double(k[(s * K + g) * d + $1]) } / Double(d).squareRoot()
                }
                let maximum = scores.max()!
                scores = scores.map { exp($0 - maximum) }
                let total = scores.reduce(0, +)
                for s in 0..<T {
                    let expected = s <= t ? scores[s] / total : 0
                    #expect(abs(Double(probabilities[(h * T + t) * T + s]) - expected) <= 1e-6)
                }
                if t > 0 { firstTokenSum += scores[0] / total }
                for i in 0..<d {
                    let expected = (0...t).reduce(0.0) { $0 + scores[$1] / total * Double(v[($1 * K + g) * d + i]) }
                    #expect(abs(Double(out[(t * H + h) * d + i]) - expected) <= 1e-6)
                }
            }
            #expect(abs(sums[h] - firstTokenSum) <= 1e-6)
        }
    }

    /// The kernel tests run every level and cancel the cases of the levels
    /// this CPU cannot run (a cancelled case shows as passed); this test
    /// names those levels, cancelled itself where there are any.
    @Test func levelsThisCPUCannotRunAreNamed() throws {
        #expect(VectorKernels.available.first == .portable && VectorKernels.available.contains(VectorKernels.best))
        let missing = VectorKernels.Level.vector.filter { $0 > VectorKernels.best }
        if !missing.isEmpty {
            try Test.cancel("this CPU cannot run the \(missing) kernels: the kernel tests' cases for them were cancelled, not run")
        }
    }

    /// The vector levels compute each output with the same fused chain, so
    /// AVX2 and AVX-512 agree bit for bit, however the columns are split.
    @Test func vectorLevelsAgreeBitForBit() throws {
        let levels = VectorKernels.Level.vector
        for level in levels { try level.requireOnThisCPU() }
        let (tokens, inputSize, outputSize) = (11, 300, 200)
        let x = Self.values(tokens * inputSize, seed: 7), w = Self.values(outputSize * inputSize, seed: 8)
        let results = levels.map { level in
            var y = [Float](repeating: 0, count: tokens * outputSize)
            x.withUnsafeBufferPointer { xp in
                w.withUnsafeBufferPointer { wp in
                    y.withUnsafeMutableBufferPointer { yp in
                        ForwardKernels.linear(xp, tokens: tokens, inputSize: inputSize, weight: wp, outputSize: outputSize, into: yp, level: level)
                    }
                }
            }
            return y.map(\.bitPattern)
        }
        #expect(results.dropFirst().allSatisfy { $0 == results[0] })
    }
}
