import JSON

/// The `tokenizer.*` keys llama.cpp's convert_hf_to_gguf.py writes for a model directory, in its
/// order and with its value types: `LlamaModel.set_vocab` (Llama, Mistral) or
/// `Qwen2Model.set_vocab` (Qwen2, Qwen3) choosing between `_set_vocab_sentencepiece`
/// (tokenizer.model), `_set_vocab_llama_hf` (a SentencePiece-style BPE tokenizer.json, Llama only)
/// and `_set_vocab_gpt2` (byte-level BPE, with `get_vocab_base` and `get_vocab_base_pre`), each
/// followed by gguf-py's `SpecialVocab`.
///
/// Where the converter runs transformers' `AutoTokenizer`, this runs gatesurgeon's
/// `tokenizer.json` pipeline, which tokenizes as HF `tokenizers` does. One deliberate
/// difference: a pre-tokenizer hash the converter does not know makes it stop, while this falls
/// back to the name of the configuration the tokenizer.json uses (GPT-2's ByteLevel regex,
/// Llama 3's, Qwen2's, Qwen3.5's, Digits + ByteLevel) or `default`, and says so in `warnings`.
/// Not reproduced: CodeLlama's extra FIM keys (vocab_size 32016) and HybridDNA vocabularies.
public struct TokenizerGGUFMetadata: Sendable {
    /// Which converter class's `set_vocab` runs.
    public enum ConverterModel: Sendable {
        /// `LlamaModel` (Llama, Mistral, SmolLM...).
        case llama
        /// `Qwen2Model` and its subclasses (Qwen2, Qwen2.5, Qwen3), and the
        /// classes that likewise take tokenizer.model when there is one and
        /// byte-level BPE otherwise (OLMo 2 and 3).
        case qwen2
        /// `Gemma2Model` / `Gemma3Model`: tokenizer.model as `_set_vocab_sentencepiece`
        /// reads it, then `add_space_prefix` false (Gemma 3 without one: byte-level BPE).
        case gemma
        /// `Phi3MiniModel`: tokenizer.model with every added token of
        /// tokenizer_config.json and tokenizer.json re-marked (score -1000,
        /// special ones CONTROL); byte-level BPE for a `GPT2Tokenizer` (Phi-4).
        case phi3
    }

    public var keys: Metadata<GGUFValue>
    /// What the converter would have logged as a problem, or where this deviates from it.
    public var warnings: [String]
    /// The converter's `chkhsh` for byte-level BPE tokenizers.
    public var checkHash: String?

    /// The keys for the tokenizer of `directory`, or nil when it has neither tokenizer.model nor
    /// tokenizer.json.
    /// - Parameter vocabularySize: config.json's `vocab_size` (the converter's `hparams`); read
    ///   from config.json when nil.
    /// - Parameter unknownHashName: the `pre` name to write when the converter's table does not
    ///   know the tokenizer's hash (as adding it to convert_hf_to_gguf_update.py would); nil uses the
    ///   name of the configuration the tokenizer.json has.
    public init?(directory: String, vocabularySize: Int? = nil, model: ConverterModel, unknownHashName: String? = nil) throws {
        if let unknownHashName, LlamaVocabulary.preTokenizerNames[unknownHashName] == nil {
            throw TokenizerError.unsupported(path: directory, component: "llama.cpp pre-tokenizer '\(unknownHashName)' (llama.cpp loads: \(Self.llamaCppPreTokenizerNames.joined(separator: ", ")))")
        }
        let config = try SpecialVocabulary.readJSON(Paths.join(directory, "config.json"))
        let hparamsVocabulary: Int? = vocabularySize ?? {
            if case .int(let n)? = config?["vocab_size"], n > 0, n < Int64(Int32.max) { return Int(n) }
            return nil
        }()
        let tokenizerConfig = try SpecialVocabulary.readJSON(Paths.join(directory, "tokenizer_config.json"))?.objectValue
        var keys = Metadata<GGUFValue>()
        var warnings: [String] = []
        var checkHash: String? = nil
        if model == .llama, let prefix = tokenizerConfig?["add_prefix_space"], !prefix.isNull {
            guard let flag = prefix.boolValue else {
                throw TokenizerError.invalid(path: Paths.join(directory, "tokenizer_config.json"), key: "add_prefix_space",
                                             problem: "expected true or false, found \(prefix.kindName)")
            }
            keys["tokenizer.ggml.add_space_prefix"] = .bool(flag)
        }
        if tokenizerConfig?["tokenizer_class"]?.stringValue == "HybridDNATokenizer" {
            throw TokenizerError.unsupported(path: Paths.join(directory, "tokenizer_config.json"), component: "tokenizer_class 'HybridDNATokenizer'")
        }
        let sentencePiecePath = Paths.join(directory, "tokenizer.model")
        let tokenizerPath = Paths.join(directory, "tokenizer.json")
        let gpt2Class = model == .phi3 && tokenizerConfig?["tokenizer_class"]?.stringValue == "GPT2Tokenizer"
        if Paths.exists(sentencePiecePath) && !gpt2Class {
            try Self.sentencePiece(directory: directory, vocabularySize: hparamsVocabulary, phi3: model == .phi3, into: &keys)
            if model == .gemma { keys["tokenizer.ggml.add_space_prefix"] = .bool(false) }
        } else if Paths.exists(tokenizerPath) {
            let document: JSONValue
            do {
                document = try JSONValue.parse(try Paths.readFile(tokenizerPath))
            } catch let error as JSONError {
                throw TokenizerError.unreadable(path: tokenizerPath, problem: error.description)
            }
            let tokenizer = try HuggingFaceTokenizer(document: document, path: tokenizerPath)
            if model == .llama && Self.isLlamaHF(document) {
                try Self.llamaHF(directory: directory, tokenizer: tokenizer, tokenizerConfig: tokenizerConfig, into: &keys)
            } else {
                checkHash = try Self.gpt2(directory: directory, tokenizer: tokenizer, tokenizerConfig: tokenizerConfig,
                                          vocabularySize: hparamsVocabulary, unknownHashName: unknownHashName, warnings: &warnings, into: &keys)
            }
        } else {
            return nil
        }
        if model == .llama && (hparamsVocabulary ?? 32000) == 49152 {
            keys["tokenizer.ggml.add_bos_token"] = .bool(false)
        }
        self.keys = keys
        self.warnings = warnings
        self.checkHash = checkHash
    }

    /// The converter's check text (`chktxt`), whose token ids' SHA-256 identifies a pre-tokenizer.
    public static var checkText: String { PreTokenizerHashes.checkText }

    /// The `tokenizer.ggml.pre` names llama.cpp loads, sorted.
    public static var llamaCppPreTokenizerNames: [String] { LlamaVocabulary.preTokenizerNames.keys.sorted() }

    /// The converter's table of known pre-tokenizer hashes, in its order.
    public static var knownHashes: [(hash: String, name: String)] { PreTokenizerHashes.table }

    /// `LlamaHfVocab` takes a BPE tokenizer.json with byte fallback and a Sequence decoder;
    /// Llama 3's (ignore_merges, no byte fallback) goes to `_set_vocab_gpt2`.
    static func isLlamaHF(_ document: JSONValue) -> Bool {
        let model = document["model"]
        let type = model?["type"]?.stringValue
        let ignoreMerges = model?["ignore_merges"]?.boolValue ?? false
        if type == "BPE" && ignoreMerges && !(model?["byte_fallback"]?.boolValue ?? true) { return false }
        return type == "BPE" && (model?["byte_fallback"]?.boolValue ?? false) && document["decoder"]?["type"]?.stringValue == "Sequence"
    }

    /// `does_token_look_special`.
    static func looksSpecial(_ token: String) -> Bool {
        if ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].contains(token) { return true }
        if token.hasPrefix("<|") && token.hasSuffix("|>") { return true }
        if token.hasPrefix("<｜") && token.hasSuffix("｜>") { return true }
        return token.hasPrefix("<unused") && token.hasSuffix(">")
    }

    /// transformers' `clean_up_tokenization` (applied by `decode` when the tokenizer config's
    /// `clean_up_tokenization_spaces` is true).
    static func cleanUpTokenization(_ text: String) -> String {
        var s = text
        for (from, to) in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
                           (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")] {
            s = s.replacingAll(from, with: to)
        }
        return s
    }

    static let tokenTypeNormal: Int32 = 1, tokenTypeUnknown: Int32 = 2, tokenTypeControl: Int32 = 3,
        tokenTypeUserDefined: Int32 = 4, tokenTypeUnused: Int32 = 5, tokenTypeByte: Int32 = 6

    /// `_set_vocab_gpt2` with `get_vocab_base` and `get_vocab_base_pre`; returns the chkhsh.
    static func gpt2(directory: String, tokenizer: HuggingFaceTokenizer, tokenizerConfig: JSONObject?, vocabularySize: Int?,
                     unknownHashName: String?, warnings: inout [String], into keys: inout Metadata<GGUFValue>) throws -> String {
        var vocabulary = tokenizer.model.vocabulary
        for (content, id) in tokenizer.added.ids { vocabulary[content] = id }
        let size = vocabularySize ?? vocabulary.count
        let largest = vocabulary.values.max() ?? -1
        guard largest < size else {
            throw TokenizerError.invalid(path: Paths.join(directory, "config.json"), key: "vocab_size",
                                         problem: "\(size) is not above the largest token id \(largest)")
        }
        guard size < 1 << 26 else {
            throw TokenizerError.invalid(path: Paths.join(directory, "config.json"), key: "vocab_size", problem: "\(size) is too large")
        }
        var reverse: [Int: String] = [:]
        for (text, id) in vocabulary { reverse[id] = text.text }
        let cleanUp = tokenizerConfig?["clean_up_tokenization_spaces"]?.boolValue ?? false
        var tokens: [GGUFValue] = []
        var types: [GGUFValue] = []
        tokens.reserveCapacity(size)
        types.reserveCapacity(size)
        for i in 0..<size {
            guard var token = reverse[i] else {
                tokens.append(.string("[PAD\(i)]"))
                types.append(.int32(tokenTypeUnused))
                continue
            }
            if let addedID = tokenizer.added.ids[TokenText(token)] {
                let flags = tokenizer.added.tokens[i] ?? tokenizer.added.tokens[addedID]!
                if !flags.normalized {
                    token = try tokenizer.decode(try tokenizer.encode(token, addSpecialTokens: false), skipSpecialTokens: false)
                    if cleanUp { token = cleanUpTokenization(token) }
                }
                if flags.special || looksSpecial(token) {
                    types.append(.int32(tokenTypeControl))
                } else {
                    token = token.replacingAll("\u{2581}", with: " ")
                    types.append(.int32(tokenTypeUserDefined))
                }
            } else {
                types.append(.int32(tokenTypeNormal))
            }
            tokens.append(.string(token))
        }
        let ids = try tokenizer.encode(PreTokenizerHashes.checkText, addSpecialTokens: true)
        let hash = SHA256.hexDigest(Array(("[" + ids.map(String.init).joined(separator: ", ") + "]").utf8))
        let pre: String
        if let known = PreTokenizerHashes.names[hash] {
            pre = known
        } else {
            pre = unknownHashName ?? configurationName(tokenizer)
            warnings.append("\(tokenizer.path): the BPE pre-tokenizer hash \(hash) is not in the converter's table (it would stop); "
                + (unknownHashName != nil ? "using '\(pre)' as asked" : "using '\(pre)', the name of the configuration the file uses"))
        }
        keys["tokenizer.ggml.model"] = .string("gpt2")
        keys["tokenizer.ggml.pre"] = .string(pre)
        keys["tokenizer.ggml.tokens"] = .array(elementType: .string, values: tokens)
        keys["tokenizer.ggml.token_type"] = .array(elementType: .int32, values: types)
        let special = try SpecialVocabulary(directory: directory, loadMerges: true)
        special.add(to: &keys)
        return hash
    }

    /// The fallback `pre` name: the known configuration a tokenizer.json's normalizer and
    /// pre-tokenizer match, else `default`.
    static func configurationName(_ tokenizer: HuggingFaceTokenizer) -> String {
        let pre = tokenizer.document["pre_tokenizer"]
        func split(_ value: JSONValue?) -> String? {
            guard value?["type"]?.stringValue == "Split" else { return nil }
            return value?["pattern"]?["Regex"]?.stringValue
        }
        func byteLevel(_ value: JSONValue?, regex: Bool) -> Bool {
            value?["type"]?.stringValue == "ByteLevel" && (value?["use_regex"]?.boolValue ?? true) == regex
                && !(value?["add_prefix_space"]?.boolValue ?? true)
        }
        if byteLevel(pre, regex: true) { return "gpt-2" }
        guard pre?["type"]?.stringValue == "Sequence", let items = pre?["pretokenizers"]?.arrayValue else { return "default" }
        if items.count == 2 && items[0]["type"]?.stringValue == "Digits" && items[0]["individual_digits"]?.boolValue == true
            && byteLevel(items[1], regex: true)
        {
            return "starcoder"
        }
        if items.count == 2, let regex = split(items[0]), byteLevel(items[1], regex: false) {
            let known = [
                ConfigurationRegex.llama3: "llama-bpe", ConfigurationRegex.qwen2: "qwen2", ConfigurationRegex.qwen35: "qwen35",
            ]
            if let name = known[regex] { return name }
        }
        return "default"
    }

    enum ConfigurationRegex {
        static let llama3 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        static let qwen2 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        static let qwen35 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    }

    /// `_set_vocab_sentencepiece` / `_create_vocab_sentencepiece`.
    /// - Parameter phi3: as `Phi3MiniModel.set_vocab` does: added tokens of
    ///   tokenizer_config.json and tokenizer.json keep their text, score
    ///   -1000, USER_DEFINED or (special) CONTROL.
    static func sentencePiece(directory: String, vocabularySize: Int?, phi3: Bool = false, into keys: inout Metadata<GGUFValue>) throws {
        let model = try SentencePieceModel(path: Paths.join(directory, "tokenizer.model"))
        let size = vocabularySize ?? model.pieces.count
        guard size > 0 && size < 1 << 26 else {
            throw TokenizerError.invalid(path: Paths.join(directory, "config.json"), key: "vocab_size", problem: "\(size) is out of range")
        }
        var tokens = (0..<size).map { "[PAD\($0)]" }
        var scores = [Float](repeating: -10000, count: size)
        var types = [Int32](repeating: tokenTypeUnused, count: size)
        for (id, piece) in model.pieces.enumerated() where id < size {
            tokens[id] = piece.text
            scores[id] = piece.score
            switch piece.type {
            case .unknown: types[id] = tokenTypeUnknown
            case .control: types[id] = tokenTypeControl
            case .unused: types[id] = tokenTypeUnused
            case .byte: types[id] = tokenTypeByte
            case .normal, .userDefined: types[id] = tokenTypeNormal
            }
        }
        if let added = try SpecialVocabulary.readJSON(Paths.join(directory, "added_tokens.json"))?.objectValue {
            for (text, value) in added {
                guard case .int(let id) = value, id >= 0, id < size else { continue }
                tokens[Int(id)] = text
                scores[Int(id)] = -1000
                types[Int(id)] = tokenTypeUserDefined
            }
        }
        if phi3 {
            var entries: [(Int, JSONValue)] = []
            if let decoder = try SpecialVocabulary.readJSON(Paths.join(directory, "tokenizer_config.json"))?["added_tokens_decoder"]?.objectValue {
                entries += decoder.compactMap { key, entry in Int(key).map { ($0, entry) } }
            }
            for entry in try SpecialVocabulary.readJSON(Paths.join(directory, "tokenizer.json"))?["added_tokens"]?.arrayValue ?? [] {
                if let id = entry["id"]?.intValue.flatMap({ Int(exactly: $0) }) { entries.append((id, entry)) }
            }
            for (id, entry) in entries {
                guard id >= 0, id < size, let token = entry["content"]?.stringValue else { continue }
                tokens[id] = token
                scores[id] = -1000
                types[id] = SpecialVocabulary.truthy(entry["special"]) ? tokenTypeControl : tokenTypeUserDefined
            }
        } else if let decoder = try SpecialVocabulary.readJSON(Paths.join(directory, "tokenizer_config.json"))?["added_tokens_decoder"]?.objectValue {
            for (key, entry) in decoder {
                guard let id = Int(key), id >= 0, id < size, var token = entry["content"]?.stringValue else { continue }
                if SpecialVocabulary.truthy(entry["special"]) || looksSpecial(token) {
                    types[id] = tokenTypeControl
                } else {
                    token = token.replacingAll("\u{2581}", with: " ")
                    types[id] = tokenTypeUserDefined
                }
                scores[id] = -1000
                tokens[id] = token
            }
        }
        keys["tokenizer.ggml.model"] = .string("llama")
        keys["tokenizer.ggml.pre"] = .string("default")
        keys["tokenizer.ggml.tokens"] = .array(elementType: .string, values: tokens.map { .string($0) })
        keys["tokenizer.ggml.scores"] = .array(elementType: .float32, values: scores.map { .float32($0) })
        keys["tokenizer.ggml.token_type"] = .array(elementType: .int32, values: types.map { .int32($0) })
        let special = try SpecialVocabulary(directory: directory, nVocab: tokens.count)
        special.add(to: &keys)
    }

    /// `_set_vocab_llama_hf` (gguf-py's `LlamaHfVocab`): every token with score -1000, byte
    /// tokens typed BYTE, the tokenizer config's special tokens CONTROL, added tokens past the
    /// model's vocabulary appended.
    static func llamaHF(directory: String, tokenizer: HuggingFaceTokenizer, tokenizerConfig: JSONObject?, into keys: inout Metadata<GGUFValue>) throws {
        let base = tokenizer.model.size
        var vocabulary = tokenizer.model.vocabulary
        for (content, id) in tokenizer.added.ids { vocabulary[content] = id }
        var reverse: [Int: String] = [:]
        for (text, id) in vocabulary { reverse[id] = text.text }
        // transformers' all_special_ids: the config's named special tokens and additional ones
        var specialTexts: [String] = []
        for name in ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"] {
            switch tokenizerConfig?[name] {
            case .string(let s)?: specialTexts.append(s)
            case .object(let o)?: if let s = o["content"]?.stringValue { specialTexts.append(s) }
            default: break
            }
        }
        for name in ["additional_special_tokens", "extra_special_tokens"] {
            for entry in tokenizerConfig?[name]?.arrayValue ?? [] {
                if let s = entry.stringValue ?? entry["content"]?.stringValue { specialTexts.append(s) }
            }
        }
        let specialIDs = Set(specialTexts.compactMap { vocabulary[TokenText($0)] })
        let addedPast = tokenizer.added.ids.filter { $0.value >= base }.sorted { $0.value < $1.value }
        var tokens: [GGUFValue] = []
        var types: [GGUFValue] = []
        for id in 0..<base {
            guard let text = reverse[id] else {
                throw TokenizerError.invalid(path: tokenizer.path, key: "model.vocab", problem: "no token has id \(id)")
            }
            tokens.append(.string(text))
            if Self.isByteToken(text) {
                types.append(.int32(tokenTypeByte))
            } else {
                types.append(.int32(specialIDs.contains(id) ? tokenTypeControl : tokenTypeNormal))
            }
        }
        for (key, id) in addedPast {
            let text = key.text
            tokens.append(.string(text))
            if specialTexts.contains(text) {
                types.append(.int32(specialIDs.contains(id) ? tokenTypeControl : tokenTypeNormal))
            } else {
                types.append(.int32(tokenTypeUserDefined))
            }
        }
        keys["tokenizer.ggml.model"] = .string("llama")
        keys["tokenizer.ggml.pre"] = .string("default")
        keys["tokenizer.ggml.tokens"] = .array(elementType: .string, values: tokens)
        keys["tokenizer.ggml.scores"] = .array(elementType: .float32, values: tokens.map { _ in .float32(-1000) })
        keys["tokenizer.ggml.token_type"] = .array(elementType: .int32, values: types)
        let special = try SpecialVocabulary(directory: directory, nVocab: tokens.count)
        special.add(to: &keys)
    }

    /// `<0xXX>` with hex digits of either case.
    static func isByteToken(_ text: String) -> Bool {
        let s = Array(text.utf8)
        guard s.count == 6, s[0] == 0x3C, s[1] == 0x30, s[2] == 0x78, s[5] == 0x3E else { return false }
        return s[3...4].allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x46) || ($0 >= 0x61 && $0 <= 0x66) }
    }
}

extension String {
    /// Every non-overlapping occurrence of `target` replaced, left to right.
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        let source = Array(self.utf8), needle = Array(target.utf8), with = Array(replacement.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(source.count)
        var i = 0
        while i < source.count {
            if i + needle.count <= source.count && source[i] == needle[0] && source[i..<(i + needle.count)].elementsEqual(needle) {
                out += with
                i += needle.count
            } else {
                out.append(source[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
