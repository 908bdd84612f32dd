/// The BPE model of `tokenizers` 0.23.3 (models/bpe): merges applied lowest rank first, leftmost
/// on ties; characters missing from the vocabulary become byte tokens `<0xXX>` (byte_fallback)
/// or the unknown token (fused when `fuse_unk`); `ignore_merges` takes a whole piece that is a
/// token as it is; `continuing_subword_prefix` and `end_of_word_suffix` decorate the characters.
struct BPEModel: Sendable {
    /// Token text to id.
    var vocabulary: [TokenText: Int]
    /// Id to token text (nil for ids the vocabulary skips).
    var tokens: [String?]
    /// `left << 32 | right` to (rank, merged id).
    var merges: [UInt64: (rank: Int32, id: Int32)]
    /// Single-scalar tokens, for the common case without affixes.
    var scalarTokens: [UInt32: Int32]
    var unknownToken: String?
    var fuseUnknown = false
    var byteFallback = false
    var ignoreMerges = false
    var continuingSubwordPrefix: String?
    var endOfWordSuffix: String?
    /// The byte tokens `<0x00>`...`<0xFF>` the vocabulary has.
    var byteTokens: [Int32?]

    var size: Int { vocabulary.count }

    init(vocabulary: [TokenText: Int], merges: [(String, String)], continuingSubwordPrefix: String? = nil,
         endOfWordSuffix: String? = nil, path: String) throws(TokenizerError) {
        self.vocabulary = vocabulary
        self.continuingSubwordPrefix = continuingSubwordPrefix
        self.endOfWordSuffix = endOfWordSuffix
        let maxID = vocabulary.values.max() ?? -1
        var tokens = [String?](repeating: nil, count: maxID + 1)
        var scalarTokens: [UInt32: Int32] = [:]
        for (key, id) in vocabulary {
            tokens[id] = key.text
            let scalars = key.text.unicodeScalars
            if scalars.count == 1 { scalarTokens[scalars.first!.value] = Int32(id) }
        }
        self.tokens = tokens
        self.scalarTokens = scalarTokens
        self.merges = [:]
        self.merges.reserveCapacity(merges.count)
        let prefixLength = continuingSubwordPrefix?.utf8.count ?? 0
        for (rank, (a, b)) in merges.enumerated() {
            guard let left = vocabulary[TokenText(a)] else {
                throw .invalid(path: path, key: "model.merges[\(rank)]", problem: "token \"\(a)\" is not in the vocabulary")
            }
            guard let right = vocabulary[TokenText(b)] else {
                throw .invalid(path: path, key: "model.merges[\(rank)]", problem: "token \"\(b)\" is not in the vocabulary")
            }
            // the second token loses the continuing-subword prefix (its first bytes) when merged
            let tailBytes = Array(b.utf8.dropFirst(prefixLength))
            guard b.utf8.count >= prefixLength, let tail = String(validating: tailBytes, as: UTF8.self),
                let id = vocabulary[TokenText(a + tail)]
            else {
                throw .invalid(path: path, key: "model.merges[\(rank)]", problem: "the merge of \"\(a)\" and \"\(b)\" is not in the vocabulary")
            }
            self.merges[UInt64(left) << 32 | UInt64(right)] = (Int32(rank), Int32(id))
        }
        byteTokens = (0..<256).map { b in
            vocabulary[TokenText("<0x" + String(b, radix: 16, uppercase: true).leftPadded(to: 2) + ">")].map { Int32($0) }
        }
    }

    /// The ids of one pre-tokenized piece.
    func tokenize(_ piece: [UInt32], into output: inout [Int], cache: inout [[UInt32]: [Int32]]) {
        guard !piece.isEmpty else { return }
        if ignoreMerges {
            if piece.count == 1, let id = scalarTokens[piece[0]] {
                output.append(Int(id))
                return
            }
            if let id = vocabulary[TokenText(piece.scalarString)] {
                output.append(id)
                return
            }
        }
        if let cached = cache[piece] {
            for id in cached { output.append(Int(id)) }
            return
        }
        var symbols = initialSymbols(piece)
        mergeAll(&symbols)
        var ids: [Int32] = []
        ids.reserveCapacity(symbols.count)
        for s in symbols where s.length > 0 { ids.append(s.id) }
        if piece.count < 256 { cache[piece] = ids }
        for id in ids { output.append(Int(id)) }
    }

    struct Symbol {
        var id: Int32
        var previous: Int32
        var next: Int32
        var length: Int32
    }

    private func initialSymbols(_ piece: [UInt32]) -> [Symbol] {
        var ids: [(Int32, Int32)] = []  // (id, byte length)
        ids.reserveCapacity(piece.count)
        var unknown: (id: Int32, length: Int32)? = nil
        let affixes = continuingSubwordPrefix != nil || endOfWordSuffix != nil
        for (i, c) in piece.enumerated() {
            let length: Int32 = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4
            var found: Int32? = nil
            if !affixes {
                found = scalarTokens[c]
            } else {
                var text = String(Unicode.Scalar(c)!)
                if i > 0, let prefix = continuingSubwordPrefix { text = prefix + text }
                if i == piece.count - 1, let suffix = endOfWordSuffix { text += suffix }
                found = vocabulary[TokenText(text)].map { Int32($0) }
            }
            if let id = found {
                if let u = unknown {
                    ids.append((u.id, u.length))
                    unknown = nil
                }
                ids.append((id, length))
                continue
            }
            if byteFallback {
                var text = String(Unicode.Scalar(c)!)
                if affixes {
                    if i > 0, let prefix = continuingSubwordPrefix { text = prefix + text }
                    if i == piece.count - 1, let suffix = endOfWordSuffix { text += suffix }
                }
                if text.utf8.allSatisfy({ byteTokens[Int($0)] != nil }) {
                    for b in text.utf8 { ids.append((byteTokens[Int(b)]!, 1)) }
                    continue
                }
            }
            if let unknownToken, let unknownID = vocabulary[TokenText(unknownToken)] {
                if let u = unknown {
                    if fuseUnknown {
                        unknown = (u.id, u.length + length)
                    } else {
                        ids.append((u.id, u.length))
                        unknown = (Int32(unknownID), length)
                    }
                } else {
                    unknown = (Int32(unknownID), length)
                }
            }
        }
        if let u = unknown { ids.append((u.id, u.length)) }
        var symbols: [Symbol] = []
        symbols.reserveCapacity(ids.count)
        for (index, entry) in ids.enumerated() {
            symbols.append(Symbol(id: entry.0, previous: Int32(index - 1), next: index + 1 < ids.count ? Int32(index + 1) : -1,
                                  length: entry.1))
        }
        return symbols
    }

    /// `Word::merge_all` without dropout: a heap of (rank, position) candidates.
    private func mergeAll(_ symbols: inout [Symbol]) {
        guard symbols.count > 1 else { return }
        var heap = MinHeap<MergeCandidate>()
        for i in 0..<(symbols.count - 1) {
            if let m = merges[UInt64(UInt32(bitPattern: symbols[i].id)) << 32 | UInt64(UInt32(bitPattern: symbols[i + 1].id))] {
                heap.push(MergeCandidate(rank: m.rank, position: Int32(i), id: m.id))
            }
        }
        while let top = heap.pop() {
            let pos = Int(top.position)
            if symbols[pos].length == 0 || symbols[pos].next == -1 { continue }
            let nextPos = Int(symbols[pos].next)
            let right = symbols[nextPos]
            guard let current = merges[UInt64(UInt32(bitPattern: symbols[pos].id)) << 32 | UInt64(UInt32(bitPattern: right.id))],
                current.id == top.id
            else { continue }
            symbols[pos].id = top.id
            symbols[pos].length += right.length
            symbols[pos].next = right.next
            symbols[nextPos].length = 0
            if right.next > -1 && Int(right.next) < symbols.count { symbols[Int(right.next)].previous = Int32(pos) }
            let previous = symbols[pos].previous
            if previous >= 0, let m = merges[UInt64(UInt32(bitPattern: symbols[Int(previous)].id)) << 32 | UInt64(UInt32(bitPattern: top.id))] {
                heap.push(MergeCandidate(rank: m.rank, position: previous, id: m.id))
            }
            let next = symbols[pos].next
            if next > -1 && Int(next) < symbols.count,
                let m = merges[UInt64(UInt32(bitPattern: top.id)) << 32 | UInt64(UInt32(bitPattern: symbols[Int(next)].id))]
            {
                heap.push(MergeCandidate(rank: m.rank, position: Int32(pos), id: m.id))
            }
        }
    }
}

/// A merge candidate: the merge of rank `rank` at symbol `position`, making token `id`; lower
/// ranks first, then the leftmost.
struct MergeCandidate: HeapOrdered {
    var rank: Int32
    var position: Int32
    var id: Int32

    @inline(__always)
    static func precedes(_ a: MergeCandidate, _ b: MergeCandidate) -> Bool {
        a.rank != b.rank ? a.rank < b.rank : a.position < b.position
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
