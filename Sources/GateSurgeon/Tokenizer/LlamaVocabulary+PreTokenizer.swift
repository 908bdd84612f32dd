/// llama.cpp's pre-tokenizers for `gpt2` vocabularies: the hand-written scanners of
/// src/unicode.cpp (`unicode_regex_split_custom_gpt2`, `_llama3`, `_qwen2`, `_qwen35`) and the
/// `\p{N}` split it runs through std::regex on its collapsed categories, all on llama.cpp's own
/// Unicode tables (src/unicode-data.cpp). They differ from the regexes they stand for in places
/// (llama.cpp's tables, `\s+(?!\S)` before the end); that is what llama.cpp does, so it is what
/// this does.
extension LlamaVocabulary {
    static let number: UInt16 = 0x02, letter: UInt16 = 0x04, accentMark: UInt16 = 0x10, whitespace: UInt16 = 0x100

    /// The pre-tokenizer, `ignore_merges`, `add_bos` default and `clean_spaces` llama.cpp derives
    /// from `tokenizer.ggml.pre` (llama_vocab::impl::load), for the names gatesurgeon implements.
    static func preTokenizerSettings(_ pre: String) -> (kind: PreTokenizerKind, ignoreMerges: Bool, addBOS: Bool?, cleanSpaces: Bool, noBOS: Bool)? {
        switch pre {
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano":
            return (.llama3, true, true, true, false)
        case "dbrx", "smaug-bpe":
            return (.llama3, false, nil, true, false)
        case "chatglm-bpe":
            return (.llama3, false, nil, true, true)
        case "glm4", "glm5":
            return (.llama3, true, nil, true, true)
        case "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum", "modern-bert",
            "mpt", "olmo", "jais", "exaone4":
            return (.gpt2, false, nil, true, false)
        case "trillion", "granite-docling":
            return (.gpt2, false, nil, false, false)
        case "starcoder", "refact", "codeshell", "exaone", "minerva-7b", "mellum2":
            return (.digitsThenGPT2, false, nil, true, false)
        case "smollm", "command-r":
            return (.digitsThenGPT2, false, nil, false, false)
        case "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "hunyuan", "solar-open":
            return (.qwen2, false, nil, false, false)
        case "megrez", "stablelm2":
            return (.qwen2, false, nil, true, false)
        case "qwen35":
            return (.qwen35, false, nil, false, false)
        default:
            return nil
        }
    }

    /// The words of a text fragment (`unicode_regex_split` without the byte encoding).
    func splitWords(_ text: [UInt8]) -> [[UInt8]] {
        let cpts = Array(scalarsOf: String(decoding: text, as: UTF8.self))
        var ranges = [0..<cpts.count]
        switch preTokenizer {
        case .gpt2?: ranges = Self.gpt2(cpts, ranges)
        case .digitsThenGPT2?: ranges = Self.gpt2(cpts, Self.isolateNumbers(cpts, ranges))
        case .llama3?: ranges = Self.llama3(cpts, ranges, digits: 3, marks: false)
        case .qwen2?: ranges = Self.llama3(cpts, ranges, digits: 1, marks: false)
        case .qwen35?: ranges = Self.llama3(cpts, ranges, digits: 1, marks: true)
        case nil: break
        }
        return ranges.map { Array(Array(cpts[$0]).scalarString.utf8) }
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
