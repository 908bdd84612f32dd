import JSON

extension Tokenizer {
    /// The `tokenizer.json` and `tokenizer_config.json` for a tokenizer read from GGUF, such that
    /// `AutoTokenizer.from_pretrained` loads it with the pipeline the model family's original
    /// tokenizer.json has, and HF `tokenizers` tokenizes the same way the model's original files
    /// did:
    ///
    /// - `gpt2` vocabularies: byte-level BPE with the file's tokens (ids kept) and merges, control
    ///   tokens as special added tokens, user-defined ones as plain added tokens, and the
    ///   pre-tokenizer of `tokenizer.ggml.pre` (GPT-2's ByteLevel regex; Digits + ByteLevel for
    ///   StarCoder/SmolLM; Llama 3's, Qwen2's or Qwen3.5's Split regex with NFC for Qwen), BOS/EOS
    ///   added by a TemplateProcessing when `add_bos_token`/`add_eos_token` say so.
    /// - `llama` (SentencePiece) vocabularies: BPE with merges recovered from the scores the way
    ///   transformers recovers them (`generate_merges`), Metaspace, byte fallback and the
    ///   Replace/ByteFallback/Fuse/Strip decoder of transformers' Llama conversion. A vocabulary
    ///   whose scores are all equal (written by `_set_vocab_llama_hf`) has lost its merge order and
    ///   is refused.
    ///
    /// Reference: transformers' own GGUF conversion (integrations/gguf/gguf_tokenizer_mapping.py),
    /// which builds the same model but keeps the pre-tokenizer of the class it hands the
    /// vocabulary to.
    public func transformersFiles() throws(TokenizerError) -> (tokenizer: JSONValue, config: JSONValue) {
        guard case .llama(let vocabulary) = backend else {
            throw .unsupported(path: "tokenizer.json", component: "writing a tokenizer that was read from tokenizer.json")
        }
        return try vocabulary.transformersFiles()
    }

    /// Writes `tokenizer.json` and `tokenizer_config.json` into `directory` (see
    /// `transformersFiles()`).
    public func writeTransformersFiles(to directory: String) throws {
        let (tokenizer, config) = try transformersFiles()
        try Paths.writeText(tokenizer.serialized(.indented) + "\n", to: Paths.join(directory, "tokenizer.json"))
        try Paths.writeText(config.serialized(.indented) + "\n", to: Paths.join(directory, "tokenizer_config.json"))
    }
}

extension LlamaVocabulary {
    /// The tokenizer.json pipelines the writer knows, by llama.cpp pre type.
    enum WriterFamily { case gpt2, digitsThenGPT2, llama3, qwen2, qwen35 }

    static func writerFamily(_ type: String?) -> WriterFamily? {
        switch type {
        case "GPT2", "MPT", "OLMO", "JAIS", "TRILLION", "GRANITE_DOCLING": return .gpt2
        case "STARCODER", "REFACT", "COMMAND_R", "SMOLLM", "CODESHELL", "EXAONE", "MINERVA", "MELLUM2": return .digitsThenGPT2
        case "LLAMA3", "DBRX", "SMAUG", "CHATGLM4": return .llama3
        case "QWEN2", "STABLELM2", "HUNYUAN", "SOLAR_OPEN": return .qwen2
        case "QWEN35": return .qwen35
        default: return nil
        }
    }

    func transformersFiles() throws(TokenizerError) -> (tokenizer: JSONValue, config: JSONValue) {
        // the last id of a repeated token wins, as in transformers' {token: index}
        var vocab = JSONObject()
        for (id, text) in tokens.enumerated() where tokenIDs[TokenText(text)] == id { vocab[text] = .int(Int64(id)) }
        // as transformers' add_gguf_special_tokens: the file's control tokens (type 3) become special
        // added tokens (in a byte-level vocabulary only those spelled in its alphabet), user-defined
        // ones (type 4) plain added tokens; the unknown token (type 2) is special too, as
        // LlamaTokenizer's unk_token; llama.cpp's by-name changes of types are not applied
        var added: [JSONValue] = []
        for (id, type) in storedTypes.enumerated() where type == 2 || type == 3 || type == 4 {
            if type == 3 && kind == .bpe && !tokens[id].unicodeScalars.allSatisfy({ ByteLevel.byte(for: $0.value) != nil }) { continue }
            added.append(.object([
                "id": .int(Int64(id)), "content": .string(tokens[id]), "single_word": .bool(false),
                "lstrip": .bool(false), "rstrip": .bool(false), "normalized": .bool(false), "special": .bool(type != 4),
            ]))
        }
        func byteLevel(prefix: Bool = false, trim: Bool, regex: Bool) -> JSONValue {
            .object(["type": .string("ByteLevel"), "add_prefix_space": .bool(prefix), "trim_offsets": .bool(trim), "use_regex": .bool(regex)])
        }
        func split(_ regex: String) -> JSONValue {
            .object(["type": .string("Split"), "pattern": .object(["Regex": .string(regex)]), "behavior": .string("Isolated"),
                     "invert": .bool(false)])
        }
        var template: [JSONValue] = []
        var specialTokens = JSONObject()
        if addBOS, let bos {
            template.append(.object(["SpecialToken": .object(["id": .string(tokens[bos]), "type_id": .int(0)])]))
            specialTokens[tokens[bos]] = .object(["id": .string(tokens[bos]), "ids": .array([.int(Int64(bos))]), "tokens": .array([.string(tokens[bos])])])
        }
        template.append(.object(["Sequence": .object(["id": .string("A"), "type_id": .int(0)])]))
        if addEOS, let eos {
            template.append(.object(["SpecialToken": .object(["id": .string(tokens[eos]), "type_id": .int(0)])]))
            specialTokens[tokens[eos]] = .object(["id": .string(tokens[eos]), "ids": .array([.int(Int64(eos))]), "tokens": .array([.string(tokens[eos])])])
        }
        // the pair template repeats the single one for sequence B, with type id 1
        var pair = template
        for item in template {
            guard case .object(let object) = item else { continue }
            if object["Sequence"] != nil {
                pair.append(.object(["Sequence": .object(["id": .string("B"), "type_id": .int(1)])]))
            } else if let id = object["SpecialToken"]?["id"] {
                pair.append(.object(["SpecialToken": .object(["id": id, "type_id": .int(1)])]))
            }
        }
        let templateProcessor: JSONValue = .object(["type": .string("TemplateProcessing"), "single": .array(template), "pair": .array(pair),
                                                    "special_tokens": .object(specialTokens)])
        let addsTokens = (addBOS && bos != nil) || (addEOS && eos != nil)
        var document = JSONObject()
        document["version"] = .string("1.0")
        document["truncation"] = .null
        document["padding"] = .null
        document["added_tokens"] = .array(added)
        switch kind {
        case .bpe:
            var merges: [JSONValue] = []
            for (pair, _) in ranks.sorted(by: { $0.value < $1.value }) {
                merges.append(.array([.string(pair.first.text), .string(pair.second.text)]))
            }
            let normalizer: JSONValue
            let preTokenizer: JSONValue
            switch Self.writerFamily(preType) {
            case .gpt2?:
                normalizer = .null
                preTokenizer = byteLevel(trim: true, regex: true)
            case .digitsThenGPT2?:
                normalizer = .null
                preTokenizer = .object(["type": .string("Sequence"), "pretokenizers": .array([
                    .object(["type": .string("Digits"), "individual_digits": .bool(true)]), byteLevel(trim: true, regex: true)])])
            case .llama3?:
                normalizer = .null
                preTokenizer = .object(["type": .string("Sequence"), "pretokenizers": .array([
                    split(TokenizerGGUFMetadata.ConfigurationRegex.llama3), byteLevel(trim: true, regex: false)])])
            case .qwen2?, .qwen35?:
                normalizer = .object(["type": .string("NFC")])
                let regex = Self.writerFamily(preType) == .qwen2 ? TokenizerGGUFMetadata.ConfigurationRegex.qwen2 : TokenizerGGUFMetadata.ConfigurationRegex.qwen35
                preTokenizer = .object(["type": .string("Sequence"), "pretokenizers": .array([
                    split(regex), byteLevel(trim: false, regex: false)])])
            case nil:
                throw .unsupported(path: path, component: "tokenizer.ggml.pre '\(pre)' for tokenizer.json")
            }
            document["normalizer"] = normalizer
            document["pre_tokenizer"] = preTokenizer
            document["post_processor"] = addsTokens
                ? .object(["type": .string("Sequence"), "processors": .array([byteLevel(trim: false, regex: true), templateProcessor])])
                : byteLevel(trim: false, regex: true)
            document["decoder"] = byteLevel(trim: true, regex: true)
            document["model"] = .object([
                "type": .string("BPE"), "dropout": .null, "unk_token": .null, "continuing_subword_prefix": .null,
                "end_of_word_suffix": .null, "fuse_unk": .bool(false), "byte_fallback": .bool(false),
                "ignore_merges": .bool(ignoreMerges), "vocab": .object(vocab), "merges": .array(merges),
            ])
        case .spm:
            guard Set(scores).count > 1 else {
                throw .unsupported(path: path, component: "tokenizer.ggml.scores all equal (no merge order to recover) for tokenizer.json")
            }
            document["normalizer"] = .null
            document["pre_tokenizer"] = .object(["type": .string("Metaspace"), "replacement": .string("\u{2581}"),
                                                 "prepend_scheme": .string(addSpacePrefix ? "always" : "never"), "split": .bool(false)])
            document["post_processor"] = templateProcessor
            document["decoder"] = .object(["type": .string("Sequence"), "decoders": .array([
                .object(["type": .string("Replace"), "pattern": .object(["String": .string("\u{2581}")]), "content": .string(" ")]),
                .object(["type": .string("ByteFallback")]), .object(["type": .string("Fuse")]),
                .object(["type": .string("Strip"), "content": .string(" "), "start": .int(addSpacePrefix ? 1 : 0), "stop": .int(0)]),
            ])])
            document["model"] = .object([
                // as transformers' LlamaTokenizer builds it: no unknown token, byte fallback, fused unknowns
                "type": .string("BPE"), "dropout": .null, "unk_token": .null,
                "continuing_subword_prefix": .null, "end_of_word_suffix": .null, "fuse_unk": .bool(true),
                "byte_fallback": .bool(true), "ignore_merges": .bool(false),
                "vocab": .object(vocab), "merges": .array(generateMerges().map { .array([.string($0.0), .string($0.1)]) }),
            ])
        }
        var config = JSONObject()
        config["tokenizer_class"] = .string("PreTrainedTokenizerFast")
        config["add_bos_token"] = .bool(addBOS)
        config["add_eos_token"] = .bool(addEOS)
        config["clean_up_tokenization_spaces"] = .bool(false)
        for (name, id) in [("bos_token", bos), ("eos_token", eos), ("unk_token", unknown), ("pad_token", padding)] {
            if let id { config[name] = .string(tokens[id]) }
        }
        if let template = chatTemplate { config["chat_template"] = .string(template) }
        return (.object(document), .object(config))
    }

    /// transformers' `generate_merges(vocab, vocab_scores)`: every split of every token into two
    /// tokens, ordered by the score of the token they form (highest first), then by length.
    func generateMerges() -> [(String, String)] {
        var merges: [(left: String, right: String, score: Float, leftLength: Int, rightLength: Int, order: Int)] = []
        var seen = Set<TokenText>()
        for token in tokens where seen.insert(TokenText(token)).inserted {
            let scalars = Array(token.unicodeScalars)
            guard scalars.count > 1, let id = tokenIDs[TokenText(token)] else { continue }
            var local: [(left: String, right: String, leftID: Int, rightID: Int, leftLength: Int)] = []
            for index in 1..<scalars.count {
                var left = String.UnicodeScalarView(), right = String.UnicodeScalarView()
                left.append(contentsOf: scalars[..<index])
                right.append(contentsOf: scalars[index...])
                if let l = tokenIDs[TokenText(String(left))], let r = tokenIDs[TokenText(String(right))] {
                    local.append((String(left), String(right), l, r, index))
                }
            }
            local.sort { ($0.leftID, $0.rightID) < ($1.leftID, $1.rightID) }
            for entry in local {
                merges.append((entry.left, entry.right, scores[id], entry.leftLength, scalars.count - entry.leftLength, merges.count))
            }
        }
        // Python's sort(reverse=True) is stable: equal keys keep their order
        merges.sort { a, b in
            if a.score != b.score { return a.score > b.score }
            if a.leftLength != b.leftLength { return a.leftLength > b.leftLength }
            if a.rightLength != b.rightLength { return a.rightLength > b.rightLength }
            return a.order < b.order
        }
        return merges.map { ($0.left, $0.right) }
    }
}
