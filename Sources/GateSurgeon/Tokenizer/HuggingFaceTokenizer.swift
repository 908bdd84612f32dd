import JSON

/// A `tokenizer.json` pipeline, run the way HF `tokenizers` 0.23.3 runs it: added tokens split
/// out of the raw text, normalizer on what lies between them, normalized added tokens, the
/// pre-tokenizer, the BPE model per piece, then the post-processor's special tokens.
struct HuggingFaceTokenizer: Sendable {
    var path: String
    var model: BPEModel
    var added: AddedVocabulary
    var normalizer: Normalizer?
    var preTokenizer: PreTokenizer?
    var postProcessor: PostProcessor?
    var decoder: TokenDecoder?
    /// The components as read, for writing them back and for summaries.
    var document: JSONObject

    /// - Throws: `TokenizerError.untokenizable` when a normalizer or pre-tokenizer regex
    ///   backtracks without end on the text (`ScalarRegex.MatchLimitExceeded`).
    func encode(_ text: String, addSpecialTokens: Bool, recognizeSpecialTokens: Bool = true) throws(TokenizerError) -> [Int] {
        var pieces: [TextPiece]
        let scalars = Array(scalarsOf: text)
        // One budget for the whole text: however many pieces the regexes run on, the work
        // stays proportional to the input.
        var budget = ScalarRegex.Budget(textLength: scalars.count)
        do {
            pieces = try added.extractAndNormalize(scalars, normalizer: normalizer, skipSpecial: !recognizeSpecialTokens, budget: &budget)
            if let preTokenizer { pieces = try preTokenizer.apply(pieces, budget: &budget) }
        } catch {
            throw .untokenizable(path: path, problem: error.description)
        }
        var ids: [Int] = []
        ids.reserveCapacity(text.utf8.count / 3 + 4)
        var cache: [[UInt32]: [Int32]] = [:]
        for piece in pieces {
            if let token = piece.token {
                ids.append(token)
            } else {
                model.tokenize(piece.scalars, into: &ids, cache: &cache)
            }
        }
        return postProcessor?.apply(ids, addSpecialTokens: addSpecialTokens) ?? ids
    }

    /// The text a token id stands for in the vocabulary (an added token's content).
    func token(_ id: Int) -> String? {
        if let token = added.tokens[id] { return token.content }
        guard id >= 0 && id < model.tokens.count else { return nil }
        return model.tokens[id]
    }

    func id(of token: String) -> Int? {
        added.ids[TokenText(token)] ?? model.vocabulary[TokenText(token)]
    }

    /// - Throws: `TokenizerError.untokenizable` when a decoder's regex backtracks without end.
    func decode(_ ids: [Int], skipSpecialTokens: Bool) throws(TokenizerError) -> String {
        var tokens: [[UInt32]] = []
        tokens.reserveCapacity(ids.count)
        for id in ids {
            let text: String?
            if let added = added.decodingText(id) {
                text = added
            } else if id >= 0 && id < model.tokens.count {
                text = model.tokens[id]
            } else {
                text = nil
            }
            guard let text else { continue }
            if skipSpecialTokens && added.specialContents.contains(TokenText(text)) { continue }
            tokens.append(Array(scalarsOf: text))
        }
        guard let decoder else {
            return tokens.map(\.scalarString).joined(separator: " ")
        }
        var budget = ScalarRegex.Budget(textLength: tokens.reduce(0) { $0 + $1.count })
        do {
            return try decoder.chain(tokens, budget: &budget).map(\.scalarString).joined()
        } catch {
            throw .untokenizable(path: path, problem: error.description)
        }
    }

    /// The largest id plus one, counting added tokens.
    var vocabularySize: Int {
        max(model.tokens.count, (added.tokens.keys.max() ?? -1) + 1)
    }
}
