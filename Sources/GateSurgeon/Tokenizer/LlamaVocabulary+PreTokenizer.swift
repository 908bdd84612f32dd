/// llama.cpp's pre-tokenizers for `gpt2` vocabularies: the hand-written scanners of
/// src/unicode.cpp (`unicode_regex_split_custom_gpt2`, `_llama3`, `_qwen2`, `_qwen35`,
/// `_newlines`, `_afmoe`) and its other regexes run as std::regex (ECMAScript) runs them, over
/// the text with llama.cpp's collapsed categories where the regex uses `\p{..}`, all on
/// llama.cpp's own Unicode tables (src/unicode-data.cpp). They differ from the regexes they stand for in places
/// (llama.cpp's tables, `\s+(?!\S)` before the end); that is what llama.cpp does, so it is what
/// this does.
extension LlamaVocabulary {
    static let number: UInt16 = 0x02, letter: UInt16 = 0x04, accentMark: UInt16 = 0x10, whitespace: UInt16 = 0x100

    /// What `llama_vocab::impl::load` sets for a `tokenizer.ggml.pre` name (nil: left as is).
    struct PreSettings: Sendable {
        var type: String
        var ignoreMerges: Bool?
        var addBOS: Bool?
        var cleanSpaces: Bool?
        var noBOS: Bool
        var escapeWhitespaces: Bool?
        var addSeparator: Bool?
    }

    /// One regex of a pre type, as `unicode_regex_split` runs it.
    enum PreStep: Sendable {
        case gpt2, llama3, qwen2, qwen35, newlines, groupDigits
        /// std::regex (ECMAScript) on the text, with llama.cpp's category collapse when the
        /// regex uses `\p{..}`.
        case regex(ScalarRegex, collapsed: Bool)
    }

    static let customGPT2 = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"#
    static let customLlama3 = [
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#,
        #"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#,
    ]
    static let customQwen2 = #"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let customQwen35 = #"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// The steps of a pre type's regex list (`unicode_regex_split_custom`, else std::regex).
    /// - Throws: for the regexes gatesurgeon does not run (Kimi-K2's custom code, a regex
    ///   llama.cpp itself refuses, one that can match empty text).
    static func preSteps(type: String, path: String) throws(TokenizerError) -> [PreStep] {
        guard let regexes = preTokenizerRegexes[type] else {
            throw .unsupported(path: path, component: "llama.cpp pre-tokenizer type \(type)")
        }
        let categories = [#"\p{N}"#, #"\p{L}"#, #"\p{P}"#, #"\p{M}"#, #"\p{S}"#, #"\p{Lu}"#, #"\p{Ll}"#, #"\p{Lt}"#, #"\p{Lm}"#, #"\p{Lo}"#]
        var steps: [PreStep] = []
        for regex in regexes {
            switch regex {
            case customGPT2: steps.append(.gpt2)
            case _ where customLlama3.contains(regex): steps.append(.llama3)
            case customQwen2: steps.append(.qwen2)
            case customQwen35: steps.append(.qwen35)
            case #"[^\n]+|[\n]+"#: steps.append(.newlines)
            case #"\p{AFMoE_digits}"#, #"\d{1,3}(?=(?:\d{3})*\b)"#: steps.append(.groupDigits)
            case #"\p{Han}+"#:
                throw .unsupported(path: path, component: "llama.cpp pre-tokenizer type \(type) (Kimi-K2's custom split)")
            default:
                let collapsed = categories.contains { regex.contains($0) }
                let source = collapsed ? try collapse(regex, type: type, path: path) : regex
                let compiled: ScalarRegex
                do {
                    compiled = try ScalarRegex(source, flavor: .ecmaScript)
                } catch {
                    throw .unsupported(path: path, component: "llama.cpp pre-tokenizer type \(type): \(error)")
                }
                guard !compiled.canMatchEmpty else {
                    throw .unsupported(path: path, component: "llama.cpp pre-tokenizer type \(type) (a regex that matches empty text)")
                }
                steps.append(.regex(compiled, collapsed: collapsed))
            }
        }
        return steps
    }

    /// The category bytes and ASCII members llama.cpp substitutes for `\p{..}`.
    static let collapsedCategories: [String: (byte: UInt32, ascii: String)] = {
        let number = (UInt32(0xD1), "\u{30}-\u{39}")
        let letter = (UInt32(0xD2), "\u{41}-\u{5A}\u{61}-\u{7A}")
        return [
            #"\p{N}"#: number, #"\p{L}"#: letter, #"\p{Lu}"#: letter, #"\p{Ll}"#: letter, #"\p{Lt}"#: letter, #"\p{Lm}"#: letter,
            #"\p{Lo}"#: letter,
            #"\p{P}"#: (0xD3, "\u{21}-\u{23}\u{25}-\u{2A}\u{2C}-\u{2F}\u{3A}-\u{3B}\u{3F}-\u{40}\\\u{5B}-\\\u{5D}\u{5F}\\\u{7B}\\\u{7D}"),
            #"\p{M}"#: (0xD4, ""),
            #"\p{S}"#: (0xD5, "\\\u{24}\\\u{2B}\u{3C}-\u{3E}\u{5E}\u{60}\\\u{7C}\\\u{7E}"),
        ]
    }()

    /// `unicode_regex_split`'s rewrite of a regex over collapsed categories.
    static func collapse(_ regex: String, type: String, path: String) throws(TokenizerError) -> String {
        let bytes = Array(regex.utf8)
        guard bytes.allSatisfy({ $0 < 0x80 }) else {
            throw .unsupported(path: path, component: "llama.cpp pre-tokenizer type \(type) (llama.cpp refuses categories with non-ASCII characters)")
        }
        var out = String.UnicodeScalarView()
        var inside = false
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if c == 0x5B && (i == 0 || bytes[i - 1] != 0x5C) {
                out.append("[")
                inside = true
                i += 1
                continue
            }
            if inside && c == 0x5D && bytes[i - 1] != 0x5C {
                out.append("]")
                inside = false
                i += 1
                continue
            }
            if c == 0x5C && i + 3 < bytes.count && bytes[i + 1] == 0x70 && bytes[i + 2] == 0x7B,
                let close = bytes[(i + 3)...].firstIndex(of: 0x7D), close <= i + 10,
                let category = collapsedCategories[String(decoding: bytes[i...close], as: UTF8.self)]
            {
                if !inside { out.append("[") }
                out.append(Unicode.Scalar(category.byte)!)
                out.append(contentsOf: category.ascii.unicodeScalars)
                if !inside { out.append("]") }
                i = close + 1
                continue
            }
            out.append(Unicode.Scalar(c))
            i += 1
        }
        return String(out)
    }

    /// The words of a text fragment (`unicode_regex_split` without the byte encoding).
    /// - Parameter budget: the steps the regexes may take (`ScalarRegex.Budget`).
    func splitWords(_ text: [UInt8], budget: inout ScalarRegex.Budget) throws(ScalarRegex.MatchLimitExceeded) -> [[UInt8]] {
        let cpts = Array(scalarsOf: String(decoding: text, as: UTF8.self))
        var ranges = [0..<cpts.count]
        var collapsedText: [UInt32]? = nil
        var wideText: [UInt32]? = nil
        for step in preSteps {
            switch step {
            case .gpt2: ranges = Self.gpt2(cpts, ranges)
            case .llama3: ranges = Self.llama3(cpts, ranges, digits: 3, marks: false)
            case .qwen2: ranges = Self.llama3(cpts, ranges, digits: 1, marks: false)
            case .qwen35: ranges = Self.llama3(cpts, ranges, digits: 1, marks: true)
            case .newlines: ranges = Self.newlines(cpts, ranges)
            case .groupDigits: ranges = Self.groupDigits(cpts, ranges)
            case .regex(let regex, let collapsed):
                let source: [UInt32]
                if collapsed {
                    if collapsedText == nil { collapsedText = cpts.map(Self.collapsed) }
                    source = collapsedText!
                } else {
                    if wideText == nil {
                        wideText = cpts.map { $0 > 0x7F && UnicodeTables.llamaFlags[$0] & Self.whitespace != 0 ? 0x0B : $0 }
                    }
                    source = wideText!
                }
                var out: [Range<Int>] = []
                for range in ranges {
                    let piece = Array(source[range])
                    var last = 0
                    for match in try regex.matches(in: piece, budget: &budget) {
                        if match.lowerBound > last { out.append((range.lowerBound + last)..<(range.lowerBound + match.lowerBound)) }
                        out.append((range.lowerBound + match.lowerBound)..<(range.lowerBound + match.upperBound))
                        last = match.upperBound
                    }
                    if last < piece.count { out.append((range.lowerBound + last)..<range.upperBound) }
                }
                ranges = out
            }
        }
        return ranges.map { Array(Array(cpts[$0]).scalarString.utf8) }
    }

    /// A code point as llama.cpp's collapsed text has it: ASCII kept, whitespace 0x0B, a
    /// category byte 0xD1-0xD5 for numbers, letters, punctuation, marks and symbols, else 0xD0.
    static func collapsed(_ c: UInt32) -> UInt32 {
        if c < 128 { return c }
        let f = UnicodeTables.llamaFlags[c]
        if f & whitespace != 0 { return 0x0B }
        switch f & 0xFF {
        case 0x02: return 0xD1
        case 0x04: return 0xD2
        case 0x20: return 0xD3
        case 0x10: return 0xD4
        case 0x40: return 0xD5
        default: return 0xD0
        }
    }

    /// `unicode_regex_split_custom_newlines`.
    static func newlines(_ cpts: [UInt32], _ ranges: [Range<Int>]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        for range in ranges {
            var pos = range.lowerBound
            while pos < range.upperBound {
                let isNewline = cpts[pos] == 0x0A
                let start = pos
                while pos < range.upperBound && (cpts[pos] == 0x0A) == isNewline { pos += 1 }
                out.append(start..<pos)
            }
        }
        return out
    }

    /// `unicode_regex_split_custom_afmoe`: digit runs cut into a leading 1-2 digits and groups of
    /// three (the text before a run joins its first group, as llama.cpp's code does).
    static func groupDigits(_ cpts: [UInt32], _ ranges: [Range<Int>]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        for range in ranges {
            var previousEnd = range.lowerBound
            func add(_ stop: Int) {
                if stop > previousEnd { out.append(previousEnd..<stop) }
                previousEnd = stop
            }
            var pos = range.lowerBound
            while pos < range.upperBound {
                if flags(cpts, pos, range) & number != 0 {
                    let start = pos
                    while flags(cpts, pos, range) & number != 0 && pos < range.upperBound { pos += 1 }
                    let count = pos - start
                    var current = start
                    if count % 3 > 0 {
                        add(current + count % 3)
                        current += count % 3
                    }
                    while current < start + count {
                        add(current + 3)
                        current += 3
                    }
                    continue
                }
                pos += 1
            }
            if previousEnd < range.upperBound { add(range.upperBound) }
        }
        return out
    }

    @inline(__always)
    static func flags(_ cpts: [UInt32], _ pos: Int, _ range: Range<Int>) -> UInt16 {
        range.contains(pos) ? UnicodeTables.llamaFlags[cpts[pos]] : 0
    }

    @inline(__always)
    static func lower(_ c: UInt32) -> UInt32 { UnicodeTables.llamaLowercase[c] ?? c }

    /// `\p{N}` through std::regex on the collapsed text: each number isolated.
    static func isolateNumbers(_ cpts: [UInt32], _ ranges: [Range<Int>]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        for range in ranges {
            var start = range.lowerBound
            for i in range {
                let c = cpts[i]
                let isNumber: Bool
                if c < 128 {
                    isNumber = c >= 0x30 && c <= 0x39
                } else {
                    let f = UnicodeTables.llamaFlags[c]
                    isNumber = f & whitespace == 0 && f & 0xFF == number
                }
                if isNumber {
                    if start < i { out.append(start..<i) }
                    out.append(i..<(i + 1))
                    start = i + 1
                }
            }
            if start < range.upperBound { out.append(start..<range.upperBound) }
        }
        return out
    }

    /// `unicode_regex_split_custom_gpt2`.
    static func gpt2(_ cpts: [UInt32], _ ranges: [Range<Int>]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        for range in ranges {
            let end = range.upperBound
            var previousEnd = range.lowerBound
            func add(_ stop: Int) -> Int {
                let length = stop - previousEnd
                if length > 0 { out.append(previousEnd..<stop) }
                previousEnd = stop
                return length
            }
            func cpt(_ p: Int) -> UInt32 { range.contains(p) ? cpts[p] : 0xFFFF_FFFF }
            func f(_ p: Int) -> UInt16 { flags(cpts, p, range) }
            var pos = range.lowerBound
            while pos < end {
                let c = cpt(pos)
                let fl = f(pos)
                if c == 0x27 && pos + 1 < end {
                    let next = cpt(pos + 1)
                    if next == 0x73 || next == 0x74 || next == 0x6D || next == 0x64 {
                        pos += add(pos + 2)
                        continue
                    }
                    if pos + 2 < end {
                        let after = cpt(pos + 2)
                        if (next == 0x72 && after == 0x65) || (next == 0x76 && after == 0x65) || (next == 0x6C && after == 0x6C) {
                            pos += add(pos + 3)
                            continue
                        }
                    }
                }
                var f2 = c == 0x20 ? f(pos + 1) : fl
                if f2 & letter != 0 {
                    if c == 0x20 { pos += 1 }
                    while f2 & letter != 0 { pos += 1; f2 = f(pos) }
                    _ = add(pos)
                    continue
                }
                if f2 & number != 0 {
                    if c == 0x20 { pos += 1 }
                    while f2 & number != 0 { pos += 1; f2 = f(pos) }
                    _ = add(pos)
                    continue
                }
                if f2 & (whitespace | letter | number) == 0 && f2 != 0 {
                    if c == 0x20 { pos += 1 }
                    while f2 & (whitespace | letter | number) == 0 && f2 != 0 { pos += 1; f2 = f(pos) }
                    _ = add(pos)
                    continue
                }
                var spaces = 0
                while f(pos + spaces) & whitespace != 0 { spaces += 1 }
                if spaces > 1 && cpt(pos + spaces) != 0xFFFF_FFFF {
                    pos += spaces - 1
                    _ = add(pos)
                    continue
                }
                if spaces > 0 {
                    pos += spaces
                    _ = add(pos)
                    continue
                }
                pos += 1
                _ = add(pos)
            }
        }
        return out
    }

    /// `unicode_regex_split_custom_llama3` (`digits` 3), `_qwen2` (1) and `_qwen35` (1, marks).
    static func llama3(_ cpts: [UInt32], _ ranges: [Range<Int>], digits: Int, marks: Bool) -> [Range<Int>] {
        var out: [Range<Int>] = []
        let wordBits = marks ? letter | accentMark : letter
        for range in ranges {
            let end = range.upperBound
            var previousEnd = range.lowerBound
            func add(_ stop: Int) -> Int {
                let length = stop - previousEnd
                if length > 0 { out.append(previousEnd..<stop) }
                previousEnd = stop
                return length
            }
            func cpt(_ p: Int) -> UInt32 { range.contains(p) ? cpts[p] : 0xFFFF_FFFF }
            func f(_ p: Int) -> UInt16 { flags(cpts, p, range) }
            var pos = range.lowerBound
            while pos < end {
                let c = cpt(pos)
                let fl = f(pos)
                if c == 0x27 && pos + 1 < end {
                    let next = lower(cpt(pos + 1))
                    if next == 0x73 || next == 0x74 || next == 0x6D || next == 0x64 {
                        pos += add(pos + 2)
                        continue
                    }
                    if pos + 2 < end {
                        let after = lower(cpt(pos + 2))
                        if (next == 0x72 && after == 0x65) || (next == 0x76 && after == 0x65) || (next == 0x6C && after == 0x6C) {
                            pos += add(pos + 3)
                            continue
                        }
                    }
                }
                if !(c == 0x0D || c == 0x0A || fl & number != 0) {
                    if fl & wordBits != 0 || f(pos + 1) & wordBits != 0 {
                        pos += 1
                        while f(pos) & wordBits != 0 { pos += 1 }
                        _ = add(pos)
                        continue
                    }
                }
                if fl & number != 0 {
                    if digits == 1 {
                        pos += 1
                        _ = add(pos)
                        continue
                    }
                    var start = pos
                    while f(pos) & number != 0 {
                        pos += 1
                        if pos - start >= digits {
                            _ = add(pos)
                            start = pos
                        }
                    }
                    _ = add(pos)
                    continue
                }
                let nonWord = whitespace | wordBits | number
                var f2 = c == 0x20 ? f(pos + 1) : fl
                if f2 & nonWord == 0 && fl != 0 {
                    if c == 0x20 { pos += 1 }
                    while f2 & nonWord == 0 && f2 != 0 { pos += 1; f2 = f(pos) }
                    var c2 = cpt(pos)
                    while c2 == 0x0D || c2 == 0x0A { pos += 1; c2 = cpt(pos) }
                    _ = add(pos)
                    continue
                }
                var spaces = 0
                var lastLineEnd = 0
                while f(pos + spaces) & whitespace != 0 {
                    let c2 = cpt(pos + spaces)
                    if c2 == 0x0D || c2 == 0x0A { lastLineEnd = pos + spaces + 1 }
                    spaces += 1
                }
                if lastLineEnd > 0 {
                    pos = lastLineEnd
                    _ = add(pos)
                    continue
                }
                if spaces > 1 && cpt(pos + spaces) != 0xFFFF_FFFF {
                    pos += spaces - 1
                    _ = add(pos)
                    continue
                }
                if spaces > 0 {
                    pos += spaces
                    _ = add(pos)
                    continue
                }
                pos += 1
                _ = add(pos)
            }
        }
        return out
    }
}
