/// A `tokenizer.json` post-processor: what `add_special_tokens=True` adds around one sequence.
indirect enum PostProcessor: Sendable {
    /// `single`: special token ids and the sequence `$A`, in order.
    case template([TemplateItem])
    /// ByteLevel only trims offsets; the ids are unchanged.
    case byteLevel
    /// RobertaProcessing / BertProcessing: `cls $A sep`.
    case wrap(first: Int, last: Int)
    case sequence([PostProcessor])

    enum TemplateItem: Sendable {
        case sequence
        case special([Int])
    }

    func apply(_ ids: [Int], addSpecialTokens: Bool) -> [Int] {
        guard addSpecialTokens else { return ids }
        switch self {
        case .template(let items):
            var out: [Int] = []
            for item in items {
                switch item {
                case .sequence: out += ids
                case .special(let special): out += special
                }
            }
            return out
        case .byteLevel:
            return ids
        case .wrap(let first, let last):
            return [first] + ids + [last]
        case .sequence(let processors):
            var current = ids
            for p in processors { current = p.apply(current, addSpecialTokens: true) }
            return current
        }
    }

    /// The special ids added before and after the sequence.
    var addedAround: (leading: [Int], trailing: [Int]) {
        switch self {
        case .template(let items):
            var leading: [Int] = [], trailing: [Int] = []
            var seen = false
            for item in items {
                switch item {
                case .sequence: seen = true
                case .special(let ids): if seen { trailing += ids } else { leading += ids }
                }
            }
            return (leading, trailing)
        case .byteLevel:
            return ([], [])
        case .wrap(let first, let last):
            return ([first], [last])
        case .sequence(let processors):
            var leading: [Int] = [], trailing: [Int] = []
            for p in processors {
                let around = p.addedAround
                leading = around.leading + leading
                trailing += around.trailing
            }
            return (leading, trailing)
        }
    }
}

/// A `tokenizer.json` decoder chain.
indirect enum TokenDecoder: Sendable {
    case byteLevel
    case metaspace(replacement: UInt32, prependScheme: PreTokenizer.PrependScheme)
    case replace(TextPattern, with: [UInt32])
    case byteFallback
    case fuse
    case strip(content: UInt32, start: Int, stop: Int)
    case sequence([TokenDecoder])

    /// `decode_chain`: tokens in, tokens out.
    /// - Parameter budget: the steps its regexes may take (`ScalarRegex.Budget`).
    func chain(_ tokens: [[UInt32]], budget: inout ScalarRegex.Budget) throws(ScalarRegex.MatchLimitExceeded) -> [[UInt32]] {
        switch self {
        case .byteLevel:
            var bytes: [UInt8] = []
            for token in tokens {
                var mapped: [UInt8] = []
                mapped.reserveCapacity(token.count)
                var all = true
                for c in token {
                    guard let b = ByteLevel.byte(for: c) else { all = false; break }
                    mapped.append(b)
                }
                if all { bytes += mapped } else { bytes += Array(token.scalarString.utf8) }
            }
            return [Array(scalarsOf: String(decoding: bytes, as: UTF8.self))]
        case .metaspace(let replacement, let scheme):
            return tokens.enumerated().map { index, token in
                var out: [UInt32] = []
                for c in token {
                    if c == replacement {
                        if !(index == 0 && scheme != .never) { out.append(0x20) }
                    } else {
                        out.append(c)
                    }
                }
                return out
            }
        case .replace(let pattern, let content):
            var out: [[UInt32]] = []
            out.reserveCapacity(tokens.count)
            for token in tokens { out.append(try Normalizer.replace(pattern, with: content).apply(token, budget: &budget)) }
            return out
        case .byteFallback:
            var out: [[UInt32]] = []
            var pending: [UInt8] = []
            func flush() {
                guard !pending.isEmpty else { return }
                if let text = String(validating: pending, as: UTF8.self) {
                    out.append(Array(scalarsOf: text))
                } else {
                    for _ in pending { out.append([0xFFFD]) }
                }
                pending.removeAll()
            }
            for token in tokens {
                if let b = Self.byteToken(token) {
                    pending.append(b)
                } else {
                    flush()
                    out.append(token)
                }
            }
            flush()
            return out
        case .fuse:
            return [tokens.flatMap { $0 }]
        case .strip(let content, let start, let stop):
            return tokens.map { token in
                var startCut = 0
                for (i, c) in token.enumerated().prefix(start) {
                    if c == content { startCut = i + 1 } else { break }
                }
                var stopCut = token.count
                for i in 0..<min(stop, token.count) {
                    let index = token.count - i - 1
                    if token[index] == content { stopCut = index } else { break }
                }
                return startCut <= stopCut ? Array(token[startCut..<stopCut]) : []
            }
        case .sequence(let decoders):
            var current = tokens
            for d in decoders { current = try d.chain(current, budget: &budget) }
            return current
        }
    }

    /// `<0xXX>` as its byte: six bytes, and the two between `<0x` and `>` parse with Rust's
    /// `u8::from_str_radix(_, 16)` (which also takes a leading `+`).
    static func byteToken(_ token: [UInt32]) -> UInt8? {
        guard token.count == 6, token[0] == 0x3C, token[1] == 0x30, token[2] == 0x78, token[5] == 0x3E else { return nil }
        func hex(_ c: UInt32) -> UInt8? {
            switch c {
            case 0x30...0x39: UInt8(c - 0x30)
            case 0x41...0x46: UInt8(c - 0x41 + 10)
            case 0x61...0x66: UInt8(c - 0x61 + 10)
            default: nil
            }
        }
        if token[3] == 0x2B { return hex(token[4]) }
        guard let high = hex(token[3]), let low = hex(token[4]) else { return nil }
        return high * 16 + low
    }
}
