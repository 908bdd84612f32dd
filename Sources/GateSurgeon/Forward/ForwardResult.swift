import Platform

/// What one decoder layer did on a forward pass: the measurements of the
/// gated-attention paper (Qiu et al. 2025, Table 4 and Fig. 2).
public struct LayerReport: Sendable, Equatable {
    public var index: Int
    /// The softmax weight queries give position 0, averaged over heads and
    /// over query positions 1..<T; nil for a single token.
    public var firstTokenAttention: Double?
    /// The largest |value| of the residual stream after the layer.
    public var maxActivation: Float
    /// The mean of sigmoid(X W_gate) over tokens, heads and dimensions; nil
    /// for an ungated layer.
    public var meanGateScore: Double?
    /// For a mixture of experts, the experts each token was routed to,
    /// `[T, k]` row-major, in descending router probability.
    public var experts: [Int]?

    public init(index: Int, firstTokenAttention: Double?, maxActivation: Float, meanGateScore: Double?) {
        self.index = index
        self.firstTokenAttention = firstTokenAttention
        self.maxActivation = maxActivation
        self.meanGateScore = meanGateScore
    }
}

/// The output of `ForwardPass.run`.
public struct ForwardResult: Sendable {
    /// The input token ids.
    public var tokens: [Int]
    public var vocabSize: Int
    /// Logits `[positions, vocabSize]`, row-major, F32: every position, or
    /// only the last one when `ForwardOptions.logitsOfLastPositionOnly` was set.
    public var logits: [Float]
    /// The position of `logits`' first row: 0, or the last position when only its logits were computed.
    public var firstLogitPosition = 0
    /// One report per decoder layer, in order.
    public var layers: [LayerReport]
    /// Per layer, the attention weights `[heads, T, T]` (zeros above the
    /// diagonal), when `ForwardOptions.recordsAttention` was set.
    public var attentions: [[Float]]?
    /// The residual stream `[T, hiddenSize]`: index 0 is the embedding
    /// output, index `i + 1` the output of layer `i` (before the final
    /// norm), when `ForwardOptions.recordsHiddenStates` was set.
    public var hiddenStates: [[Float]]?

    public var tokenCount: Int { tokens.count }


    /// The logits of position `position`, which `logits` must hold.
    public func logits(at position: Int) -> ArraySlice<Float> {
        let row = position - firstLogitPosition
        return logits[(row * vocabSize)..<((row + 1) * vocabSize)]
    }

    /// The `count` most likely tokens after the last position, most likely
    /// first (ties: lower id first), with their softmax probabilities.
    public func nextTokens(count: Int) -> [RankedToken] {
        guard tokenCount > 0, vocabSize > 0, logits.count == (tokenCount - firstLogitPosition) * vocabSize else { return [] }
        return RankedToken.top(count, of: logits(at: tokenCount - 1))
    }
}

/// A token id with its logit and softmax probability at one position.
public struct RankedToken: Sendable, Equatable {
    public var id: Int
    public var logit: Float
    public var probability: Double

    /// The `count` largest of `logits` (indices from its start), largest
    /// first; probabilities are the softmax over all of `logits` in Double.
    /// Non-finite logits rank last.
    static func top(_ count: Int, of logits: ArraySlice<Float>) -> [RankedToken] {
        let finite = logits.lazy.filter(\.isFinite)
        guard let largest = finite.max() else { return [] }
        var sum = 0.0
        for value in finite { sum += exp(Double(value - largest)) }
        var chosen: [(id: Int, logit: Float)] = []
        for (offset, value) in logits.enumerated() where value.isFinite {
            if chosen.count == count, let last = chosen.last, value <= last.logit { continue }
            let position = chosen.firstIndex { value > $0.logit } ?? chosen.count
            chosen.insert((offset, value), at: position)
            if chosen.count > count { chosen.removeLast() }
        }
        return chosen.map { RankedToken(id: $0.id, logit: $0.logit, probability: exp(Double($0.logit - largest)) / sum) }
    }
}

/// What a forward pass records beyond logits and the per-layer report.
public struct ForwardOptions: Sendable {
    /// Keep every layer's attention weights (memory: layers * heads * T^2 floats).
    public var recordsAttention: Bool
    /// Keep the residual stream after the embedding and after every layer.
    public var recordsHiddenStates: Bool
    /// Sees the input of every matrix multiplication inside the layers
    /// (what llama-imatrix collects), in the order they run.
    public var observer: (any MatmulObserver)?
    /// Compute the logits (skip lm_head when only the layers matter).
    public var computesLogits: Bool
    /// Compute the logits of the last position only (what the next token
    /// needs): lm_head on one row instead of all of them.
    public var logitsOfLastPositionOnly = false

    public init(recordsAttention: Bool = false, recordsHiddenStates: Bool = false, observer: (any MatmulObserver)? = nil,
                computesLogits: Bool = true) {
        self.recordsAttention = recordsAttention
        self.recordsHiddenStates = recordsHiddenStates
        self.observer = observer
        self.computesLogits = computesLogits
    }
}

/// Receives the input of each matrix multiplication of a forward pass.
public protocol MatmulObserver: Sendable {
    /// `input` is `rows x weight.columns`, row-major: the activations that
    /// multiply `weight` (for an expert, only the tokens routed to it).
    /// - Parameter expert: which expert of its layer, for expert weights.
    func observe(weight: GraphTensor, expert: Int?, input: [Float], rows: Int)
}

/// Why a forward pass could not run.
public enum ForwardError: Error, Sendable, CustomStringConvertible {
    case noTokens
    case tokenOutOfRange(token: Int, position: Int, vocabSize: Int)
    case badTensor(path: String, tensor: String, problem: String)

    public var description: String {
        switch self {
        case .noTokens: "no input tokens"
        case .tokenOutOfRange(let token, let position, let vocabSize):
            "token \(token) at position \(position) is outside the vocabulary (0..<\(vocabSize))"
        case .badTensor(let path, let tensor, let problem): "\(path): tensor '\(tensor)': \(problem)"
        }
    }
}
