/// Runs two models on the same tokens and compares their logits: the check
/// behind `gatesurgeon verify`, `add-gate --verify` and `convert --verify`.
///
///     let result = try Verification.compare(original, gated, tokens: [1, 17, 42])
///     let failures = VerificationThresholds(maxAbsDifference: 1e-4).failures(of: result.comparison)
public enum Verification {
    /// Runs `a` (the reference) and `b` on `tokens` and compares the logits.
    /// Throws `VerificationError.vocabularyMismatch` when the vocabularies
    /// differ, and the forward pass's errors (token out of range, bad tensor).
    /// - Complexity: two forward passes; memory for one layer of weights at a time.
    /// - Parameter onLayer: called before each layer runs, with the model
    ///   (0 for `a`, 1 for `b`) and the layer index (for progress).
    public static func compare(_ a: ModelGraph, _ b: ModelGraph, tokens: [Int], onLayer: ((Int, Int) -> Void)? = nil) throws -> VerificationResult {
        guard a.config.vocabSize == b.config.vocabSize else {
            throw VerificationError.vocabularyMismatch(pathA: a.sourcePath, vocabA: a.config.vocabSize, pathB: b.sourcePath, vocabB: b.config.vocabSize)
        }
        let resultA = try ForwardPass(graph: a).run(tokens: tokens) { onLayer?(0, $0) }
        let resultB = try ForwardPass(graph: b).run(tokens: tokens) { onLayer?(1, $0) }
        return VerificationResult(
            tokens: tokens,
            comparison: LogitComparison(reference: resultA.logits, candidate: resultB.logits, vocabSize: a.config.vocabSize),
            layersA: resultA.layers, layersB: resultB.layers,
            nextTokensA: resultA.nextTokens(count: VerificationResult.nextTokenCount),
            nextTokensB: resultB.nextTokens(count: VerificationResult.nextTokenCount))
    }

    /// `count` token ids uniform in `0..<vocabSize`, a deterministic function
    /// of `seed` (`SplitMix64`), so a verification can be repeated exactly.
    public static func randomTokens(count: Int, vocabSize: Int, seed: UInt64) -> [Int] {
        precondition(vocabSize > 0)
        var generator = SplitMix64(state: seed)
        return (0..<count).map { _ in generator.next(below: vocabSize) }
    }
}

/// What `Verification.compare` measured.
public struct VerificationResult: Sendable {
    public var tokens: [Int]
    /// B's logits against A's.
    public var comparison: LogitComparison
    /// The per-layer reports of A and of B.
    public var layersA: [LayerReport]
    public var layersB: [LayerReport]
    /// The most likely tokens after the last position, per model.
    public var nextTokensA: [RankedToken]
    public var nextTokensB: [RankedToken]

    /// How many next tokens `compare` ranks.
    public static let nextTokenCount = 5

    public init(tokens: [Int], comparison: LogitComparison, layersA: [LayerReport], layersB: [LayerReport],
                nextTokensA: [RankedToken] = [], nextTokensB: [RankedToken] = []) {
        self.tokens = tokens
        self.comparison = comparison
        self.layersA = layersA
        self.layersB = layersB
        self.nextTokensA = nextTokensA
        self.nextTokensB = nextTokensB
    }
}

/// Limits on the four metrics; nil means unchecked.
public struct VerificationThresholds: Sendable, Equatable {
    public var maxAbsDifference: Float?
    public var maxNMSE: Double?
    public var minTop1Agreement: Double?
    public var maxKLDivergence: Double?

    public init(maxAbsDifference: Float? = nil, maxNMSE: Double? = nil, minTop1Agreement: Double? = nil, maxKLDivergence: Double? = nil) {
        self.maxAbsDifference = maxAbsDifference
        self.maxNMSE = maxNMSE
        self.minTop1Agreement = minTop1Agreement
        self.maxKLDivergence = maxKLDivergence
    }

    /// Whether any limit is set.
    public var isEmpty: Bool { maxAbsDifference == nil && maxNMSE == nil && minTop1Agreement == nil && maxKLDivergence == nil }

    /// The limits `comparison` breaks, in the order max-abs, NMSE, top-1, KL.
    /// A NaN metric breaks any limit on it.
    public func failures(of comparison: LogitComparison) -> [ThresholdFailure] {
        var failures: [ThresholdFailure] = []
        if let limit = maxAbsDifference, !(comparison.maxAbsDifference <= limit) {
            failures.append(ThresholdFailure(metric: .maxAbsDifference, value: Double(comparison.maxAbsDifference), limit: Double(limit)))
        }
        if let limit = maxNMSE, !(comparison.normalizedMeanSquaredError <= limit) {
            failures.append(ThresholdFailure(metric: .nmse, value: comparison.normalizedMeanSquaredError, limit: limit))
        }
        if let limit = minTop1Agreement, !(comparison.top1Agreement >= limit) {
            failures.append(ThresholdFailure(metric: .top1Agreement, value: comparison.top1Agreement, limit: limit))
        }
        if let limit = maxKLDivergence, !(comparison.meanKLDivergence <= limit) {
            failures.append(ThresholdFailure(metric: .klDivergence, value: comparison.meanKLDivergence, limit: limit))
        }
        return failures
    }
}

/// One broken limit.
public struct ThresholdFailure: Sendable, Equatable, CustomStringConvertible {
    /// The metrics, named as reports name them.
    public enum Metric: String, Sendable, CaseIterable {
        case maxAbsDifference = "max_abs_diff"
        case nmse = "nmse"
        case top1Agreement = "top1_agreement"
        case klDivergence = "mean_kl_divergence"

        /// Whether the limit is a lower bound.
        public var isMinimum: Bool { self == .top1Agreement }
    }

    public var metric: Metric
    public var value: Double
    public var limit: Double

    /// How far past the limit the value is (positive).
    public var excess: Double { metric.isMinimum ? limit - value : value - limit }

    public var description: String {
        let relation = metric.isMinimum ? "<" : ">"
        return "\(metric.rawValue) \(value) \(relation) \(limit)"
    }
}

/// Why two models cannot be compared.
public enum VerificationError: Error, Sendable, CustomStringConvertible {
    case vocabularyMismatch(pathA: String, vocabA: Int, pathB: String, vocabB: Int)

    public var description: String {
        switch self {
        case .vocabularyMismatch(let pathA, let vocabA, let pathB, let vocabB):
            "vocabularies differ: \(pathA) has \(vocabA) tokens, \(pathB) has \(vocabB)"
        }
    }
}
