/// A piece of the text on its way through the pipeline: scalars not yet tokenized, or a matched
/// added token.
struct TextPiece: Sendable {
    var scalars: [UInt32]
    var token: Int?
    /// Whether the piece begins at offset 0 of the original text (Metaspace's `first` scheme).
    var atStart: Bool
}

/// What `tokenizers`' `SplitDelimiterBehavior` does with the matched delimiters.
enum SplitBehavior: String, Sendable {
    case removed = "Removed", isolated = "Isolated", mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext", contiguous = "Contiguous"

    /// `NormalizedString::split`: the pieces of `count` scalars given the (range, is match)
    /// cover of `find_matches`.
    func split(_ cover: [(range: Range<Int>, isMatch: Bool)]) -> [Range<Int>] {
        switch self {
        case .isolated:
            return cover.map(\.range)
        case .removed:
            return cover.filter { !$0.isMatch }.map(\.range)
        case .contiguous:
            var out: [Range<Int>] = []
            var previous = false
            for (range, isMatch) in cover {
                if isMatch == previous, let last = out.last {
                    out[out.count - 1] = last.lowerBound..<range.upperBound
                } else {
                    out.append(range)
                }
                previous = isMatch
            }
            return out
        case .mergedWithPrevious:
            var out: [Range<Int>] = []
            var previous = false
            for (range, isMatch) in cover {
                if isMatch && !previous, let last = out.last {
                    out[out.count - 1] = last.lowerBound..<range.upperBound
                } else {
                    out.append(range)
                }
                previous = isMatch
            }
            return out
        case .mergedWithNext:
            var out: [Range<Int>] = []
            var previous = false
            for (range, isMatch) in cover.reversed() {
                if isMatch && !previous, let last = out.last {
                    out[out.count - 1] = range.lowerBound..<last.upperBound
                } else {
                    out.append(range)
                }
                previous = isMatch
            }
            return out.reversed()
        }
    }

    /// The (range, is match) cover of `count` scalars from match ranges, as `find_matches` builds it.
    static func cover(_ matches: [Range<Int>], count: Int, invert: Bool) -> [(range: Range<Int>, isMatch: Bool)] {
        guard count > 0 else { return [(0..<0, invert)] }
        var out: [(range: Range<Int>, isMatch: Bool)] = []
        var previous = 0
        for m in matches {
            if previous != m.lowerBound { out.append((previous..<m.lowerBound, invert)) }
            out.append((m, !invert))
            previous = m.upperBound
        }
        if previous != count { out.append((previous..<count, invert)) }
        return out
    }

    /// The cover for a per-character predicate (`impl Pattern for Fn(char) -> bool`).
    static func cover(count: Int, invert: Bool = false, where predicate: (Int) -> Bool) -> [(range: Range<Int>, isMatch: Bool)] {
        guard count > 0 else { return [(0..<0, invert)] }
        var out: [(range: Range<Int>, isMatch: Bool)] = []
        var last = 0
        for i in 0..<count where predicate(i) {
            if last < i { out.append((last..<i, invert)) }
            out.append((i..<(i + 1), !invert))
            last = i + 1
        }
        if last < count { out.append((last..<count, invert)) }
        return out
    }
}

/// A `tokenizer.json` pre-tokenizer.
indirect enum PreTokenizer: Sendable {
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    case split(TextPattern, SplitBehavior, invert: Bool)
    case digits(individual: Bool)
    case punctuation(SplitBehavior)
    case whitespace
    case whitespaceSplit
    case charDelimiter(UInt32)
    case metaspace(replacement: UInt32, prependScheme: PrependScheme, split: Bool)
    case sequence([PreTokenizer])

    enum PrependScheme: String, Sendable { case first, never, always }

    /// GPT-2's regex, which the ByteLevel pre-tokenizer uses when `use_regex` is set.
    static let gpt2Regex = try! ScalarRegex(#"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#)
    /// The `\w+|[^\w\s]+` of the Whitespace pre-tokenizer, with the Rust regex crate's classes.
    static func whitespaceCover(_ text: [UInt32]) -> [(range: Range<Int>, isMatch: Bool)] {
        let word = UnicodeTables.Property.rustRegexWord.rawValue
        let space = UnicodeTables.Property.rustRegexSpace.rawValue
        var matches: [Range<Int>] = []
        var i = 0
        while i < text.count {
            let p = UnicodeTables.hfProperties[text[i]]
            if p & word != 0 {
                var j = i + 1
                while j < text.count && UnicodeTables.hfProperties[text[j]] & word != 0 { j += 1 }
                matches.append(i..<j)
                i = j
            } else if p & space == 0 {
                var j = i + 1
                while j < text.count {
                    let q = UnicodeTables.hfProperties[text[j]]
                    if q & word != 0 || q & space != 0 { break }
                    j += 1
                }
                matches.append(i..<j)
                i = j
            } else {
                i += 1
            }
        }
        // Invert + Removed: the matches are kept, the rest removed
        return SplitBehavior.cover(matches, count: text.count, invert: true)
    }

    /// - Parameter budget: the steps its regexes may take (`ScalarRegex.Budget`).
    func apply(_ pieces: [TextPiece], budget: inout ScalarRegex.Budget) throws(ScalarRegex.MatchLimitExceeded) -> [TextPiece] {
        if case .sequence(let items) = self {
            var current = pieces
            for item in items { current = try item.apply(current, budget: &budget) }
            return current
        }
        var out: [TextPiece] = []
        out.reserveCapacity(pieces.count)
        for piece in pieces {
            if piece.token != nil {
                out.append(piece)
                continue
            }
            try split(piece, into: &out, budget: &budget)
        }
        if case .byteLevel = self {
            for i in out.indices where out[i].token == nil { out[i].scalars = ByteLevel.encode(out[i].scalars) }
        }
        return out
    }

    private func emit(_ piece: TextPiece, _ ranges: [Range<Int>], into out: inout [TextPiece]) {
        for range in ranges where !range.isEmpty {
            out.append(TextPiece(scalars: Array(piece.scalars[range]), token: nil, atStart: piece.atStart && range.lowerBound == 0))
        }
    }

    private func split(_ piece: TextPiece, into out: inout [TextPiece], budget: inout ScalarRegex.Budget) throws(ScalarRegex.MatchLimitExceeded) {
        let text = piece.scalars
        let props = { (i: Int) in UnicodeTables.hfProperties[text[i]] }
        switch self {
        case .byteLevel(let addPrefixSpace, let useRegex):
            var p = piece
            if addPrefixSpace && p.scalars.first != 0x20 { p.scalars.insert(0x20, at: 0) }
            if useRegex {
                let cover = SplitBehavior.cover(try Self.gpt2Regex.matches(in: p.scalars, budget: &budget), count: p.scalars.count, invert: false)
                emit(p, SplitBehavior.isolated.split(cover), into: &out)
            } else if !p.scalars.isEmpty {
                out.append(p)
            }
        case .split(let pattern, let behavior, let invert):
            let cover = SplitBehavior.cover(try pattern.matches(in: text, budget: &budget), count: text.count, invert: invert)
            emit(piece, behavior.split(cover), into: &out)
        case .digits(let individual):
            let numeric = UnicodeTables.Property.rustNumeric.rawValue
            let cover = SplitBehavior.cover(count: text.count) { props($0) & numeric != 0 }
            emit(piece, (individual ? SplitBehavior.isolated : .contiguous).split(cover), into: &out)
        case .punctuation(let behavior):
            let punctuation = UnicodeTables.Property.rustPunctuation.rawValue
            let cover = SplitBehavior.cover(count: text.count) { props($0) & punctuation != 0 }
            emit(piece, behavior.split(cover), into: &out)
        case .whitespace:
            emit(piece, SplitBehavior.removed.split(Self.whitespaceCover(text)), into: &out)
        case .whitespaceSplit:
            let space = UnicodeTables.Property.rustWhitespace.rawValue
            let cover = SplitBehavior.cover(count: text.count) { props($0) & space != 0 }
            emit(piece, SplitBehavior.removed.split(cover), into: &out)
        case .charDelimiter(let delimiter):
            let cover = SplitBehavior.cover(count: text.count) { text[$0] == delimiter }
            emit(piece, SplitBehavior.removed.split(cover), into: &out)
        case .metaspace(let replacement, let scheme, let split):
            var p = piece
            for i in p.scalars.indices where p.scalars[i] == 0x20 { p.scalars[i] = replacement }
            switch scheme {
            case .always:
                if p.scalars.first != replacement { p.scalars.insert(replacement, at: 0) }
            case .first:
                if p.scalars.first != replacement && piece.atStart { p.scalars.insert(replacement, at: 0) }
            case .never:
                break
            }
            if split {
                let scalars = p.scalars
                let cover = SplitBehavior.cover(count: scalars.count) { scalars[$0] == replacement }
                emit(p, SplitBehavior.mergedWithNext.split(cover), into: &out)
            } else if !p.scalars.isEmpty {
                out.append(p)
            }
        case .sequence:
            preconditionFailure("handled in apply")
        }
    }
}
