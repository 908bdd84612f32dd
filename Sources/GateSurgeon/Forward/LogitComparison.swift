import Platform

/// How far two logit matrices `[tokens, vocab]` are apart.
///
/// `reference` is the model taken as the truth (KL divergence and NMSE are
/// measured relative to it). Non-finite values make the metrics NaN or
/// infinite, so every threshold on them fails.
public struct LogitComparison: Sendable, Equatable {
    public var tokenCount: Int
    public var vocabSize: Int
    /// max |a - b| over all entries.
    public var maxAbsDifference: Float
    /// sum (a - b)^2 / sum a^2 (0 when both are all zero).
    public var normalizedMeanSquaredError: Double
    /// KL(softmax(a) || softmax(b)) per token, averaged over tokens.
    public var meanKLDivergence: Double
    /// Fraction of tokens whose argmax agrees (ties go to the lowest index).
    public var top1Agreement: Double
    /// Number of tokens whose argmax agrees.
    public var top1Matches: Int

    /// Compares `candidate` with `reference`, both `[tokens, vocabSize]` row-major.
    /// - Precondition: both hold the same number of values, a multiple of `vocabSize`.
    /// - Complexity: O(tokens * vocabSize).
    public init(reference a: [Float], candidate b: [Float], vocabSize: Int) {
        precondition(vocabSize > 0 && a.count == b.count && a.count % vocabSize == 0, "logit matrices differ in shape")
        let tokens = a.count / vocabSize
        tokenCount = tokens
        self.vocabSize = vocabSize

        var maximum: Float = 0
        var finite = true
        var squaredError = 0.0, squaredReference = 0.0
        for (x, y) in zip(a, b) {
            let difference = abs(x - y)
            if !difference.isFinite { finite = false }
            if difference > maximum { maximum = difference }
            let e = Double(x) - Double(y)
            squaredError += e * e
            squaredReference += Double(x) * Double(x)
        }
        maxAbsDifference = finite ? maximum : (a.contains(where: \.isNaN) || b.contains(where: \.isNaN) ? .nan : .infinity)
        normalizedMeanSquaredError = squaredReference > 0 ? squaredError / squaredReference : (squaredError == 0 ? 0 : .infinity)

        var klTotal = 0.0
        var matches = 0
        for t in 0..<tokens {
            let rowA = a[(t * vocabSize)..<((t + 1) * vocabSize)]
            let rowB = b[(t * vocabSize)..<((t + 1) * vocabSize)]
            let logA = LogitComparison.logSoftmax(rowA), logB = LogitComparison.logSoftmax(rowB)
            var kl = 0.0
            for i in 0..<vocabSize where logA[i] > -.infinity {
                kl += exp(logA[i]) * (logA[i] - logB[i])
            }
            klTotal += max(0, kl)  // rounding can leave a tiny negative value
            if LogitComparison.argmax(rowA) == LogitComparison.argmax(rowB) { matches += 1 }
        }
        meanKLDivergence = tokens > 0 ? klTotal / Double(tokens) : 0
        if !finite { meanKLDivergence = .nan }
        top1Matches = matches
        top1Agreement = tokens > 0 ? Double(matches) / Double(tokens) : 1
    }

    /// log softmax in Double, max-subtracted.
    static func logSoftmax(_ row: ArraySlice<Float>) -> [Double] {
        let maximum = Double(row.max() ?? 0)
        var total = 0.0
        for value in row { total += exp(Double(value) - maximum) }
        let logTotal = log(total)
        return row.map { Double($0) - maximum - logTotal }
    }

    /// Index of the first largest value.
    static func argmax(_ row: ArraySlice<Float>) -> Int {
        var best = row.startIndex
        for index in row.indices where row[index] > row[best] { best = index }
        return best - row.startIndex
    }
}
