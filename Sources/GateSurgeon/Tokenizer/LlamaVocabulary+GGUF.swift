extension LlamaVocabulary {
    /// Reads `tokenizer.ggml.*` keys (and `general.name` for llama.cpp's name-based token
    /// attributes) the way `llama_vocab::impl::load` does.
    /// - Throws: `TokenizerError.unsupported` for tokenizer models other than `llama` and `gpt2`
    ///   and for pre-tokenizers gatesurgeon does not implement; `.invalid` naming the key for
    ///   arrays of the wrong type or length and ids out of range.
    init(metadata values: Metadata<GGUFValue>, path: String) throws(TokenizerError) {
        func string(_ key: String) throws(TokenizerError) -> String? {
            guard let value = values[key] else { return nil }
            guard let text = value.stringValue else { throw .invalid(path: path, key: key, problem: "expected a string, found \(value.type.name)") }
            return text
        }
        func bool(_ key: String) throws(TokenizerError) -> Bool? {
            guard let value = values[key] else { return nil }
            guard let flag = value.boolValue else { throw .invalid(path: path, key: key, problem: "expected a bool, found \(value.type.name)") }
            return flag
        }
        func array(_ key: String, _ types: [GGUFValueType]) throws(TokenizerError) -> GGUFArray? {
            guard let value = values[key] else { return nil }
            guard case .array(let elementType, let elements) = value, types.contains(elementType) else {
                throw .invalid(path: path, key: key, problem: "expected an array of \(types.map(\.name).joined(separator: " or ")), found \(Self.describe(value))")
            }
            return elements
        }
        guard let model = try string("tokenizer.ggml.model") else {
            throw .invalid(path: path, key: "tokenizer.ggml.model", problem: "missing")
        }
        guard let kind = Kind(rawValue: model) else {
            throw .unsupported(path: path, component: "tokenizer.ggml.model '\(model)'")
        }
        self.path = path
        self.kind = kind
        pre = try string("tokenizer.ggml.pre") ?? ""
        guard let tokenValues = try array("tokenizer.ggml.tokens", [.string]) else {
            throw .invalid(path: path, key: "tokenizer.ggml.tokens", problem: "missing")
        }
        guard tokenValues.count < Int(Int32.max) else { throw .invalid(path: path, key: "tokenizer.ggml.tokens", problem: "too many tokens") }
        let count = tokenValues.count
        tokens = tokenValues.enumerated().map { i, v in
            let text = v.stringValue ?? ""
            return text.isEmpty ? "[EMPTY_\(i)]" : text
        }
        var ids: [TokenText: Int] = [:]
        ids.reserveCapacity(count)
        for (i, t) in tokens.enumerated() { ids[TokenText(t)] = i }
        tokenIDs = ids
        scores = [Float](repeating: 0, count: count)
        if let scoreValues = try array("tokenizer.ggml.scores", [.float32, .int32]) {
            guard scoreValues.count >= count else {
                throw .invalid(path: path, key: "tokenizer.ggml.scores", problem: "\(scoreValues.count) scores for \(count) tokens")
            }
            for i in 0..<count { scores[i] = Float(scoreValues[i].doubleValue ?? 0) }
        }
        attributes = [Attribute](repeating: .normal, count: count)
        if let typeValues = try array("tokenizer.ggml.token_type", [.int32]) {
            guard typeValues.count >= count else {
                throw .invalid(path: path, key: "tokenizer.ggml.token_type", problem: "\(typeValues.count) types for \(count) tokens")
            }
            storedTypes = (0..<count).map { Int32(truncatingIfNeeded: typeValues[$0].intValue ?? 0) }
            for i in 0..<count {
                switch typeValues[i].intValue {
                case 1: attributes[i] = .normal
                case 2: attributes[i] = .unknown
                case 3: attributes[i] = .control
                case 4: attributes[i] = .userDefined
                case 5: attributes[i] = .unused
                case 6: attributes[i] = .byte
                default: attributes[i] = []
                }
            }
        }
        switch kind {
        case .spm:
            bos = 1; eos = 2; unknown = 0
            addSpacePrefix = true; addBOS = true; addEOS = false; cleanSpaces = false
        case .bpe:
            bos = 11; eos = 11; unknown = nil
            guard let merges = try array("tokenizer.ggml.merges", [.string]) else {
                throw .invalid(path: path, key: "tokenizer.ggml.merges", problem: "missing (llama.cpp needs merges for a gpt2 vocabulary)")
            }
            ranks.reserveCapacity(merges.count)
            for (i, merge) in merges.enumerated() {
                let bytes = Array((merge.stringValue ?? "").utf8)
                // llama.cpp splits at the first space after the first byte; no space gives ("", "")
                var pair = MergePair(first: TokenText(""), second: TokenText(""))
                if bytes.count > 1, let space = bytes[1...].firstIndex(of: 0x20) {
                    pair = MergePair(first: TokenText(bytes[..<space]), second: TokenText(bytes[(space + 1)...]))
                }
                if ranks[pair] == nil { ranks[pair] = i }
            }
            guard let settings = Self.preTokenizerNames[pre.isEmpty ? "default" : pre] else {
                throw .unsupported(path: path, component: "tokenizer.ggml.pre '\(pre)'")
            }
            if settings.escapeWhitespaces == true {
                throw .unsupported(path: path, component: "tokenizer.ggml.pre '\(pre)' (SentencePiece-style BPE on raw UTF-8)")
            }
            preType = settings.type
            preSteps = try Self.preSteps(type: settings.type, path: path)
            ignoreMerges = settings.ignoreMerges ?? false
            addBOS = settings.addBOS ?? false
            cleanSpaces = settings.cleanSpaces ?? true
            if settings.noBOS { bos = nil }
            if settings.addSeparator == true {
                throw .unsupported(path: path, component: "tokenizer.ggml.pre '\(pre)' (adds a separator token, a BERT-style model)")
            }
        }
        if let prefix = try bool("tokenizer.ggml.add_space_prefix") { addSpacePrefix = prefix }
        chatTemplate = try string("tokenizer.chat_template")
        func specialID(_ key: String, _ current: Int?) throws(TokenizerError) -> Int? {
            var id = current
            if let c = id, c >= count { id = nil }
            guard let value = values["tokenizer.ggml.\(key)"] else { return id }
            guard let number = value.intValue, value.type == .uint32 || value.type == .int32 else {
                throw .invalid(path: path, key: "tokenizer.ggml.\(key)", problem: "expected a UINT32, found \(value.type.name)")
            }
            return number >= 0 && number < count ? number : id
        }
        bos = try specialID("bos_token_id", bos)
        eos = try specialID("eos_token_id", eos)
        unknown = try specialID("unknown_token_id", unknown)
        separator = try specialID("seperator_token_id", nil)
        padding = try specialID("padding_token_id", nil)
        if let flag = try bool("tokenizer.ggml.add_bos_token") { addBOS = flag }
        if let flag = try bool("tokenizer.ggml.add_eos_token") { addEOS = flag }
        markSpecialTokens(explicitFIM: Set(values.keys.filter { $0.hasPrefix("tokenizer.ggml.fim_") || $0.hasSuffix("prefix_token_id") }))
        if let name = values["general.name"]?.stringValue?.lowercased(), name.contains("phi-3") || name.contains("phi3") {
            for id in 0..<count where !attributes[id].isDisjoint(with: [.control, .userDefined, .unknown]) {
                attributes[id].insert(.rightStrip)
            }
            if let id = tokenIDs[TokenText("</s>")] { attributes[id].insert(.rightStrip) }
            for text in ["<unk>", "<s>", "<|endoftext|>"] { if let id = tokenIDs[TokenText(text)] { attributes[id].remove(.rightStrip) } }
        }
        if addBOS && bos == nil { throw .invalid(path: path, key: "tokenizer.ggml.bos_token_id", problem: "add_bos_token is set but there is no BOS token") }
        if addEOS && eos == nil { throw .invalid(path: path, key: "tokenizer.ggml.eos_token_id", problem: "add_eos_token is set but there is no EOS token") }
    }

    static func describe(_ value: GGUFValue) -> String {
        if case .array(let elementType, _) = value { return "an array of \(elementType.name)" }
        return value.type.name
    }

    /// llama.cpp's by-text fixes of token attributes (end-of-turn, fill-in-the-middle and
    /// end-of-generation tokens become control tokens; gpt-oss's channel tokens user-defined),
    /// then the special-token cache: control, user-defined and unknown tokens, longest first.
    private mutating func markSpecialTokens(explicitFIM: Set<String>) {
        func mark(_ texts: [String]) {
            for t in texts { if let id = tokenIDs[TokenText(t)] { attributes[id].insert(.control) } }
        }
        mark(["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
              "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"])
        mark(["<|eom_id|>"])
        if explicitFIM.isEmpty {
            mark(["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>"])
            mark(["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>"])
            mark(["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>"])
            mark(["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"])
            mark(["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"])
            mark(["<|file_sep|>"])
        }
        for id in attributes.indices where attributes[id].contains(.control) && tokens[id].contains("unused") {
            attributes[id].insert(.unused)
        }
        mark(["<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
              "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>",
              "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~["])
        for text in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
            if let id = tokenIDs[TokenText(text)] { attributes[id] = .userDefined }
        }
        func has(_ text: String) -> Bool { tokenIDs[TokenText(text)] != nil }
        if let end = tokenIDs[TokenText("<|end|>")], (has("<|return|>") && (has("<|call|>") || has("<|calls|>")))
            || ((has("<|call|>") || has("<|calls|>")) && has("<|flush|>"))
        {
            attributes[end] = .userDefined
        }
        if let s = tokenIDs[TokenText("</s>")], has("<|tool_response>") || has("<|plamo:eos|>") {
            attributes[s] = .normal
        }
        let candidates = attributes.indices.filter { !attributes[$0].isDisjoint(with: [.control, .userDefined, .unknown]) }
        specialTokens = candidates.sorted { a, b in
            let la = tokens[a].utf8.count, lb = tokens[b].utf8.count
            return la != lb ? la > lb : a < b
        }
    }

    // MARK: - detokenize

    /// `llama_vocab::impl::token_to_piece` with the piece cache's rules.
    func piece(_ id: Int, special: Bool) -> [UInt8] {
        guard id >= 0 && id < tokens.count else { return [] }
        let attribute = attributes[id]
        if !special && !attribute.isDisjoint(with: [.unknown, .control]) { return [] }
        let text = tokens[id]
        if !attribute.isDisjoint(with: [.unknown, .control, .userDefined]) { return Array(text.utf8) }
        if attribute.contains(.normal) {
            switch kind {
            case .spm:
                var out: [UInt8] = []
                for c in text.unicodeScalars {
                    if c == "\u{2581}" { out.append(0x20) } else { out += Array(String(c).utf8) }
                }
                return out
            case .bpe:
                var out: [UInt8] = []
                for c in text.unicodeScalars {
                    if let b = ByteLevel.byte(for: c.value) {
                        out.append(b)
                    } else {
                        let utf8 = Array(String(c).utf8)
                        out += Array("[UNK_BYTE_0x".utf8)
                        for b in utf8 { out += Array(String(b, radix: 16).leftPadded(to: 2).utf8) }
                        out += Array(text.utf8) + [0x5D]
                    }
                }
                return out
            }
        }
        if attribute.contains(.byte) {
            let utf8 = Array(text.utf8)
            guard utf8.count >= 5 else { return [0] }
            return [Self.strtol16(utf8[3..<5])]
        }
        return []
    }

    /// C `strtol(s, NULL, 16)` of two characters, truncated to a byte.
    static func strtol16(_ s: ArraySlice<UInt8>) -> UInt8 {
        var value = 0
        for c in s {
            let digit: Int
            switch c {
            case 0x30...0x39: digit = Int(c - 0x30)
            case 0x41...0x46: digit = Int(c - 0x41 + 10)
            case 0x61...0x66: digit = Int(c - 0x61 + 10)
            default: return UInt8(truncatingIfNeeded: value)
            }
            value = value * 16 + digit
        }
        return UInt8(truncatingIfNeeded: value)
    }

    /// `llama_vocab::impl::detokenize`.
    func detokenize(_ ids: [Int], removeSpecial: Bool, unparseSpecial: Bool) -> String {
        var ids = ids[...]
        var removeSpace = addSpacePrefix
        if removeSpecial && addBOS, let first = ids.first, first == bos {
            removeSpace = false
            ids = ids.dropFirst()
        }
        if removeSpecial && addEOS, let last = ids.last, last == eos { ids = ids.dropLast() }
        var text: [UInt8] = []
        for id in ids {
            var piece = self.piece(id, special: unparseSpecial)[...]
            if removeSpace, piece.first == 0x20 { piece = piece.dropFirst() }
            removeSpace = false
            text += piece
        }
        if cleanSpaces { text = Self.cleanSpaces(text) }
        return String(decoding: text, as: UTF8.self)
    }

    /// The three passes of llama.cpp's `clean_spaces`.
    static func cleanSpaces(_ input: [UInt8]) -> [UInt8] {
        var text = input
        // " ?", " !", " .", " ,"
        var out: [UInt8] = []
        for (i, x) in text.enumerated() {
            if i > 0 && text[i - 1] == 0x20 && (x == 0x3F || x == 0x21 || x == 0x2E || x == 0x2C) { out.removeLast() }
            out.append(x)
        }
        text = out
        // " ' " loses both spaces
        out = []
        var i = 0
        if !text.isEmpty { out.append(text[0]); i = 1 }
        while i < text.count {
            let x = text[i]
            if x == 0x27 && i + 1 < text.count && text[i - 1] == 0x20 && text[i + 1] == 0x20 {
                out.removeLast()
                text[i + 1] = 0  // llama.cpp blanks the next space and skips it
                out.append(x)
                i += 2
                continue
            }
            out.append(x)
            i += 1
        }
        text = out
        // " 's", " 'm", " 're", " 've" lose the space
        out = []
        for (i, x) in text.enumerated() {
            if i > 0 && text[i - 1] == 0x20 && x == 0x27 && i + 1 < text.count {
                let x1 = text[i + 1]
                if x1 == 0x73 || x1 == 0x6D {
                    out.removeLast()
                } else if i + 2 < text.count, (x1 == 0x72 || x1 == 0x76) && text[i + 2] == 0x65 {
                    out.removeLast()
                }
            }
            out.append(x)
        }
        return out
    }
}
