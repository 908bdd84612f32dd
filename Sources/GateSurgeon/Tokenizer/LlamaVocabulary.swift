/// A vocabulary from a GGUF's `tokenizer.ggml.*` keys, tokenizing and detokenizing as llama.cpp
/// does (src/llama-vocab.cpp and src/unicode.cpp of the llama-cpp-python 0.3.36 sdist, llama.cpp
/// commit 0c1e570): special tokens partitioned out first (longest text first), then the SPM
/// bigram merger by score for `llama` vocabularies, or the pre-tokenizer of `tokenizer.ggml.pre`
/// (its regexes from llama.cpp's table: hand-written scanners or std::regex emulation, see
/// LlamaVocabulary+PreTokenizer.swift) and the BPE merger by rank for `gpt2` vocabularies.
struct LlamaVocabulary: Sendable {
    enum Kind: String, Sendable { case spm = "llama", bpe = "gpt2" }

    struct Attribute: OptionSet, Sendable {
        let rawValue: UInt32
        static let unknown = Attribute(rawValue: 1 << 0)
        static let unused = Attribute(rawValue: 1 << 1)
        static let normal = Attribute(rawValue: 1 << 2)
        static let control = Attribute(rawValue: 1 << 3)
        static let userDefined = Attribute(rawValue: 1 << 4)
        static let byte = Attribute(rawValue: 1 << 5)
        static let leftStrip = Attribute(rawValue: 1 << 7)
        static let rightStrip = Attribute(rawValue: 1 << 8)
    }

    struct MergePair: Hashable, Sendable {
        var first: TokenText
        var second: TokenText
    }

    var path: String
    var kind: Kind
    var pre: String
    /// llama.cpp's pre type for `pre` (`LLAMA3`, `QWEN2`...), nil for SPM vocabularies.
    var preType: String?
    var preSteps: [PreStep] = []
    var tokens: [String]
    var scores: [Float]
    var attributes: [Attribute]
    /// `tokenizer.ggml.token_type` as stored (before llama.cpp's by-name fixes), for writing.
    var storedTypes: [Int32] = []
    var tokenIDs: [TokenText: Int]
    var ranks: [MergePair: Int] = [:]
    var bos: Int?
    var eos: Int?
    var unknown: Int?
    var separator: Int?
    var padding: Int?
    var addBOS = false
    var addEOS = false
    var addSpacePrefix = false
    var ignoreMerges = false
    var cleanSpaces = false
    /// `tokenizer.chat_template`, kept for writing tokenizer_config.json.
    var chatTemplate: String?
    /// Tokens matched in the text before tokenizing: control, user-defined and unknown tokens,
    /// longest text first (ties by id).
    var specialTokens: [Int] = []

    func token(_ id: Int) -> String? { id >= 0 && id < tokens.count ? tokens[id] : nil }
    func id(of token: String) -> Int? { tokenIDs[TokenText(token)] }

    // MARK: - tokenize

    /// `llama_vocab::impl::tokenize`.
    func tokenize(_ text: String, addSpecial: Bool, parseSpecial: Bool) throws(TokenizerError) -> [Int] {
        let bytes = Array(text.utf8)
        var fragments: [Fragment] = bytes.isEmpty ? [] : [.text(0..<bytes.count)]
        partition(&fragments, bytes: bytes, parseSpecial: parseSpecial)
        var output: [Int] = []
        switch kind {
        case .spm:
            var previousSpecial = true
            if addSpecial && addBOS, let bos { output.append(bos) }
            for fragment in fragments {
                switch fragment {
                case .text(let range):
                    var piece: [UInt8] = addSpacePrefix && previousSpecial ? [0x20] : []
                    piece += bytes[range]
                    try spm(escapeWhitespace(piece), into: &output)
                    previousSpecial = false
                case .token(let id):
                    output.append(id)
                    previousSpecial = true
                }
            }
            if addSpecial && addEOS, let eos { output.append(eos) }
        case .bpe:
            if addSpecial && addBOS, let bos { output.append(bos) }
            var cache: [[UInt8]: [Int]] = [:]
            // One budget for the pre-tokenizer regexes on the whole text (`ScalarRegex.Budget`).
            var budget = ScalarRegex.Budget(textLength: text.unicodeScalars.count)
            for fragment in fragments {
                switch fragment {
                case .text(let range): try bpe(Array(bytes[range]), into: &output, cache: &cache, budget: &budget)
                case .token(let id): output.append(id)
                }
            }
            if addSpecial && addEOS, let eos { output.append(eos) }
        }
        return output
    }

    enum Fragment {
        case text(Range<Int>)
        case token(Int)
    }

    /// `tokenizer_st_partition`: every occurrence of each special token, in cache order.
    private func partition(_ fragments: inout [Fragment], bytes: [UInt8], parseSpecial: Bool) {
        for id in specialTokens {
            let attribute = attributes[id]
            if !parseSpecial && !attribute.isDisjoint(with: [.control, .unknown]) { continue }
            let needle = Array(tokens[id].utf8)
            guard !needle.isEmpty else { continue }
            var result: [Fragment] = []
            for fragment in fragments {
                guard case .text(var range) = fragment else {
                    result.append(fragment)
                    continue
                }
                while let match = find(needle, in: bytes, range: range) {
                    var left = range.lowerBound..<match
                    if attribute.contains(.leftStrip) {
                        while !left.isEmpty && isSpace(bytes[left.upperBound - 1]) { left = left.lowerBound..<(left.upperBound - 1) }
                    }
                    if !left.isEmpty { result.append(.text(left)) }
                    result.append(.token(id))
                    var right = (match + needle.count)..<range.upperBound
                    if attribute.contains(.rightStrip) {
                        while !right.isEmpty && isSpace(bytes[right.lowerBound]) { right = (right.lowerBound + 1)..<right.upperBound }
                    }
                    range = right
                    if range.isEmpty { break }
                }
                if !range.isEmpty { result.append(.text(range)) }
            }
            fragments = result
        }
    }

    /// C `isspace` in the "C" locale.
    private func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }

    private func find(_ needle: [UInt8], in bytes: [UInt8], range: Range<Int>) -> Int? {
        guard needle.count <= range.count else { return nil }
        var i = range.lowerBound
        let last = range.upperBound - needle.count
        while i <= last {
            if bytes[i] == needle[0] && bytes[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    private func escapeWhitespace(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for b in bytes {
            if b == 0x20 { out += [0xE2, 0x96, 0x81] } else { out.append(b) }
        }
        return out
    }

    /// `unicode_len_utf8`: the sequence length a lead byte announces.
    private static func utf8Length(_ b: UInt8) -> Int {
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4][Int(b >> 4)]
    }

    private struct Symbol {
        var previous: Int
        var next: Int
        var start: Int
        var count: Int
    }

    /// `llm_tokenizer_spm_session::tokenize`.
    private func spm(_ text: [UInt8], into output: inout [Int]) throws(TokenizerError) {
        var symbols: [Symbol] = []
        var offset = 0
        while offset < text.count {
            let length = min(Self.utf8Length(text[offset]), text.count - offset)
            symbols.append(Symbol(previous: symbols.count - 1, next: offset + length == text.count ? -1 : symbols.count + 1,
                                  start: offset, count: length))
            offset += length
        }
        var queue = MinHeap<SPMBigram>()
        func tryAdd(_ left: Int, _ right: Int) {
            guard left != -1 && right != -1 else { return }
            let start = symbols[left].start
            let size = symbols[left].count + symbols[right].count
            guard let id = tokenIDs[TokenText(text[start..<(start + size)])], id < tokens.count else { return }
            queue.push(SPMBigram(score: scores[id], left: left, right: right, size: size))
        }
        for i in stride(from: 1, to: symbols.count, by: 1) { tryAdd(i - 1, i) }
        while let bigram = queue.pop() {
            let left = symbols[bigram.left], right = symbols[bigram.right]
            if left.count == 0 || right.count == 0 || left.count + right.count != bigram.size { continue }
            symbols[bigram.left].count += right.count
            symbols[bigram.right].count = 0
            symbols[bigram.left].next = right.next
            if right.next >= 0 { symbols[right.next].previous = bigram.left }
            tryAdd(symbols[bigram.left].previous, bigram.left)
            tryAdd(bigram.left, symbols[bigram.left].next)
        }
        var i = symbols.isEmpty ? -1 : 0
        while i != -1 {
            let symbol = symbols[i]
            let piece = text[symbol.start..<(symbol.start + symbol.count)]
            if let id = tokenIDs[TokenText(piece)] {
                output.append(id)
            } else {
                for b in piece {
                    let hex = "<0x" + String(b, radix: 16, uppercase: true).leftPadded(to: 2) + ">"
                    if let id = tokenIDs[TokenText(hex)] {
                        output.append(id)
                    } else if let id = tokenIDs[TokenText([b])], b < 0x80 {
                        output.append(id)
                    } else {
                        throw .untokenizable(path: path, problem: "llama.cpp aborts here: no byte token \(hex) for a character the vocabulary lacks")
                    }
                }
            }
            i = symbol.next
        }
    }

    /// `llm_tokenizer_bpe_session::tokenize`.
    /// Words repeat; their ids are cached for the whole text (llama.cpp computes each anew, with the
    /// same result).
    private func bpe(_ text: [UInt8], into output: inout [Int], cache: inout [[UInt8]: [Int]],
                     budget: inout ScalarRegex.Budget) throws(TokenizerError) {
        let words: [[UInt8]]
        do {
            words = try splitWords(text, budget: &budget)
        } catch {
            throw .untokenizable(path: path, problem: "pre-tokenizer \(pre): \(error)")
        }
        for word in words {
            let encoded = byteEncode(word)
            if let ids = cache[encoded] {
                output += ids
                continue
            }
            let start = output.count
            defer { if encoded.count < 256 { cache[encoded] = Array(output[start...]) } }
            if ignoreMerges, let id = tokenIDs[TokenText(encoded)] {
                output.append(id)
                continue
            }
            var symbols: [Symbol] = []
            var offset = 0
            while offset < encoded.count {
                let length = min(encoded.count - offset, Self.utf8Length(encoded[offset]))
                symbols.append(Symbol(previous: symbols.count - 1, next: offset + length == encoded.count ? -1 : symbols.count + 1,
                                      start: offset, count: length))
                offset += length
            }
            var queue = MinHeap<MergeCandidate>()
            func text(_ s: Symbol) -> TokenText { TokenText(encoded[s.start..<(s.start + s.count)]) }
            func add(_ left: Int, _ right: Int) {
                guard left != -1 && right != -1 else { return }
                guard let rank = ranks[MergePair(first: text(symbols[left]), second: text(symbols[right]))] else { return }
                queue.push(MergeCandidate(rank: Int32(rank), position: Int32(left), id: Int32(right)))
            }
            for i in stride(from: 1, to: symbols.count, by: 1) { add(i - 1, i) }
            while let top = queue.pop() {
                let left = Int(top.position), right = Int(top.id)
                let l = symbols[left], r = symbols[right]
                if l.count == 0 || r.count == 0 { continue }
                // the bigram's text must still be the two symbols' text (an outdated entry otherwise)
                guard l.next == right, l.start + l.count == r.start,
                    ranks[MergePair(first: text(l), second: text(r))] == Int(top.rank)
                else { continue }
                symbols[left].count += r.count
                symbols[right].count = 0
                symbols[left].next = r.next
                if r.next >= 0 { symbols[r.next].previous = left }
                add(symbols[left].previous, left)
                add(left, symbols[left].next)
            }
            var i = symbols.isEmpty ? -1 : 0
            while i != -1 {
                let s = symbols[i]
                if s.count > 0 {
                    let piece = text(s)
                    if let id = tokenIDs[piece] {
                        output.append(id)
                    } else {
                        for b in encoded[s.start..<(s.start + s.count)] {
                            if let id = tokenIDs[TokenText([b])], b < 0x80 { output.append(id) }
                        }
                    }
                }
                i = s.next
            }
        }
    }

    /// The UTF-8 of each byte's mapped character (`unicode_byte_encoding_process`).
    private func byteEncode(_ word: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(word.count * 2)
        for b in word {
            let c = ByteLevel.characters[Int(b)]
            if c < 0x80 {
                out.append(UInt8(c))
            } else {
                out.append(UInt8(0xC0 | (c >> 6)))
                out.append(UInt8(0x80 | (c & 0x3F)))
            }
        }
        return out
    }
}

/// A bigram of llama.cpp's SPM tokenizer: highest score first, then the leftmost.
private struct SPMBigram: HeapOrdered {
    var score: Float
    var left: Int
    var right: Int
    var size: Int

    static func precedes(_ a: SPMBigram, _ b: SPMBigram) -> Bool {
        a.score > b.score || (a.score == b.score && a.left < b.left)
    }
}
