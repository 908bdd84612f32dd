/// A `tokenizer.json` normalizer, applied to scalars as `tokenizers` 0.23.3 does.
indirect enum Normalizer: Sendable {
    case unicode(UnicodeNormalization.Form)
    /// Rust's `char::to_lowercase`, character by character (no final-sigma rule).
    case lowercase
    /// Prepends the string to non-empty text.
    case prepend([UInt32])
    /// Replaces every non-overlapping match, leftmost first.
    case replace(TextPattern, with: [UInt32])
    /// Removes leading and/or trailing `char::is_whitespace` characters.
    case strip(left: Bool, right: Bool)
    case sequence([Normalizer])

    /// - Parameter budget: the steps its regexes may take (`ScalarRegex.Budget`).
    func apply(_ text: [UInt32], budget: inout ScalarRegex.Budget) throws(ScalarRegex.MatchLimitExceeded) -> [UInt32] {
        switch self {
        case .unicode(let form):
            return UnicodeNormalization.normalize(text, form)
        case .lowercase:
            var out: [UInt32] = []
            out.reserveCapacity(text.count)
            for c in text {
                if c < 0x80 {
                    out.append(c >= 0x41 && c <= 0x5A ? c + 0x20 : c)
                } else if let mapped = UnicodeTables.rustLowercase[c] {
                    out += mapped
                } else {
                    out.append(c)
                }
            }
            return out
        case .prepend(let prefix):
            return text.isEmpty ? text : prefix + text
        case .replace(let pattern, let content):
            var out: [UInt32] = []
            var last = 0
            for range in try pattern.matches(in: text, budget: &budget) {
                out += text[last..<range.lowerBound]
                out += content
                last = range.upperBound
            }
            out += text[last...]
            return out
        case .strip(let left, let right):
            let isSpace = { (c: UInt32) in UnicodeTables.hfProperties[c] & UnicodeTables.Property.rustWhitespace.rawValue != 0 }
            var start = 0, end = text.count
            if left { while start < end && isSpace(text[start]) { start += 1 } }
            if right { while end > start && isSpace(text[end - 1]) { end -= 1 } }
            return Array(text[start..<end])
        case .sequence(let normalizers):
            var current = text
            for n in normalizers { current = try n.apply(current, budget: &budget) }
            return current
        }
    }
}

/// A `Split`/`Replace` pattern: `{"String": s}` (a literal) or `{"Regex": r}` (Oniguruma).
enum TextPattern: Sendable {
    case literal([UInt32])
    case regex(ScalarRegex)

    /// Non-overlapping matches, leftmost first, as scalar index ranges.
    func matches(in text: [UInt32], budget: inout ScalarRegex.Budget) throws(ScalarRegex.MatchLimitExceeded) -> [Range<Int>] {
        switch self {
        case .regex(let regex):
            return try regex.matches(in: text, budget: &budget)
        case .literal(let needle):
            guard !needle.isEmpty, needle.count <= text.count else { return [] }
            var result: [Range<Int>] = []
            var i = 0
            let first = needle[0]
            while i + needle.count <= text.count {
                if text[i] == first && text[i..<(i + needle.count)].elementsEqual(needle) {
                    result.append(i..<(i + needle.count))
                    i += needle.count
                } else {
                    i += 1
                }
            }
            return result
        }
    }
}
