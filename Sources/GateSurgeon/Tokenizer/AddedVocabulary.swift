/// A token of `tokenizer.json`'s `added_tokens`, with its matching flags.
public struct AddedToken: Sendable, Equatable {
    public var content: String
    public var id: Int
    public var special: Bool
    public var normalized: Bool
    public var singleWord: Bool
    public var leftStrip: Bool
    public var rightStrip: Bool
}

/// `tokenizers`' AddedVocabulary: tokens matched in the text before the model sees it, the
/// non-normalized ones on the raw text, then the normalized ones (by their normalized form) on
/// each normalized piece; leftmost-longest, with single_word, lstrip and rstrip as in
/// `AddedVocabulary::find_matches`.
struct AddedVocabulary: Sendable {
    /// By id (the last definition of an id wins, as in `added_tokens_map_r`).
    var tokens: [Int: AddedToken] = [:]
    /// Content to id.
    var ids: [TokenText: Int] = [:]
    /// The normalized form of normalized tokens whose normalization changes them.
    var normalizedForms: [Int: [UInt32]] = [:]
    var specialContents: Set<TokenText> = []
    private var rawMatcher = Matcher()
    private var normalizedMatcher = Matcher()

    /// Adds the tokens in order, assigning ids as `AddedVocabulary::add_tokens` does: an existing
    /// added token or model token keeps its id, a new one takes the next id after the model's
    /// vocabulary (its `id` in the file is only checked, as `tokenizers` warns and ignores it).
    init(_ list: [AddedToken], modelSize: Int, modelID: (String) -> Int?, normalizer: Normalizer?) throws(ScalarRegex.MatchLimitExceeded) {
        var next = modelSize
        for var token in list {
            if token.content.isEmpty { continue }
            if let id = ids[TokenText(token.content)], let existing = tokens[id], existing.sameFlags(token) { continue }
            let id: Int
            if let existing = ids[TokenText(token.content)] ?? modelID(token.content) {
                id = existing
            } else {
                id = next
                next += 1
            }
            token.id = id
            if token.normalized, let normalizer {
                let content = Array(scalarsOf: token.content)
                var budget = ScalarRegex.Budget(textLength: content.count)
                let form = try normalizer.apply(content, budget: &budget)
                if form != Array(scalarsOf: token.content) { normalizedForms[id] = form } else { normalizedForms[id] = nil }
            }
            ids[TokenText(token.content)] = id
            if token.special { specialContents.insert(TokenText(token.content)) }
            tokens[id] = token
        }
        for (id, token) in tokens {
            if token.normalized {
                normalizedMatcher.insert(normalizedForms[id] ?? Array(scalarsOf: token.content), id: id)
            } else {
                rawMatcher.insert(Array(scalarsOf: token.content), id: id)
            }
        }
    }

    var isEmpty: Bool { tokens.isEmpty }

    func isSpecial(_ id: Int) -> Bool {
        guard let token = tokens[id] else { return false }
        return specialContents.contains(TokenText(token.content))
    }

    /// The text an added token decodes from (its normalized form when normalization changes it).
    func decodingText(_ id: Int) -> String? {
        guard let token = tokens[id] else { return nil }
        return normalizedForms[id]?.scalarString ?? token.content
    }

    /// Splits the text on added tokens and normalizes what lies between them.
    /// - Parameter skipSpecial: `encode_special_tokens`: special tokens are not matched.
    func extractAndNormalize(_ text: [UInt32], normalizer: Normalizer?, skipSpecial: Bool = false, budget: inout ScalarRegex.Budget) throws(ScalarRegex.MatchLimitExceeded) -> [TextPiece] {
        var pieces: [TextPiece] = []
        for piece in split(TextPiece(scalars: text, token: nil, atStart: true), matcher: rawMatcher, skipSpecial: skipSpecial) {
            if piece.token != nil {
                pieces.append(piece)
                continue
            }
            var normalized = piece
            if let normalizer { normalized.scalars = try normalizer.apply(piece.scalars, budget: &budget) }
            pieces += split(normalized, matcher: normalizedMatcher, skipSpecial: skipSpecial)
        }
        return pieces
    }

    private func split(_ piece: TextPiece, matcher: Matcher, skipSpecial: Bool) -> [TextPiece] {
        let text = piece.scalars
        guard !text.isEmpty else { return [] }
        guard !matcher.isEmpty else { return [piece] }
        var out: [TextPiece] = []
        var startOffset = 0
        let word = UnicodeTables.Property.rustRegexWord.rawValue
        let space = UnicodeTables.Property.rustRegexSpace.rawValue
        func isWord(_ c: UInt32) -> Bool { UnicodeTables.hfProperties[c] & word != 0 }
        func isSpace(_ c: UInt32) -> Bool { UnicodeTables.hfProperties[c] & space != 0 }
        for match in matcher.leftmostLongest(in: text) {
            var start = match.range.lowerBound
            var stop = match.range.upperBound
            guard let token = tokens[match.id] else { continue }
            if skipSpecial && specialContents.contains(TokenText(token.content)) { continue }
            if token.singleWord {
                let startSpace = start == 0 || !isWord(text[start - 1])
                let stopSpace = stop == text.count || !isWord(text[stop])
                if !startSpace || !stopSpace { continue }
            }
            if token.leftStrip {
                var newStart = start
                while newStart > 0 && isSpace(text[newStart - 1]) { newStart -= 1 }
                start = max(newStart, startOffset)
            }
            if token.rightStrip {
                while stop < text.count && isSpace(text[stop]) { stop += 1 }
            }
            if startOffset < start {
                out.append(TextPiece(scalars: Array(text[startOffset..<start]), token: nil, atStart: piece.atStart && startOffset == 0))
            }
            out.append(TextPiece(scalars: Array(text[min(start, text.count)..<min(stop, text.count)]), token: match.id, atStart: false))
            startOffset = stop
        }
        if startOffset < text.count {
            out.append(TextPiece(scalars: Array(text[startOffset...]), token: nil, atStart: piece.atStart && startOffset == 0))
        }
        return out
    }

    /// Leftmost-longest matching over scalars (daachorse's `MatchKind::LeftmostLongest`).
    struct Matcher: Sendable {
        private var byFirst: [UInt32: [(scalars: [UInt32], id: Int)]] = [:]
        var isEmpty: Bool { byFirst.isEmpty }

        mutating func insert(_ scalars: [UInt32], id: Int) {
            guard let first = scalars.first else { return }
            var list = byFirst[first, default: []]
            if let existing = list.firstIndex(where: { $0.scalars == scalars }) {
                list[existing].id = id
            } else {
                list.append((scalars, id))
                list.sort { $0.scalars.count > $1.scalars.count }
            }
            byFirst[first] = list
        }

        func leftmostLongest(in text: [UInt32]) -> [(range: Range<Int>, id: Int)] {
            var out: [(range: Range<Int>, id: Int)] = []
            var i = 0
            while i < text.count {
                if let candidates = byFirst[text[i]],
                    let found = candidates.first(where: { i + $0.scalars.count <= text.count && text[i..<(i + $0.scalars.count)].elementsEqual($0.scalars) })
                {
                    out.append((i..<(i + found.scalars.count), found.id))
                    i += found.scalars.count
                } else {
                    i += 1
                }
            }
            return out
        }
    }
}

extension AddedToken {
    /// The same content (byte for byte) and flags, as `tokenizers` compares added tokens.
    func sameFlags(_ other: AddedToken) -> Bool {
        content.utf8.elementsEqual(other.content.utf8) && special == other.special && normalized == other.normalized
            && singleWord == other.singleWord && leftStrip == other.leftStrip && rightStrip == other.rightStrip
    }
}
