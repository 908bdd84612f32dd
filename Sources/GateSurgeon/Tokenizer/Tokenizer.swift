// Tokenizer: text to token ids and back. tokenizer.json pipelines as Hugging Face tokenizers
// runs them (HuggingFaceTokenizer), GGUF vocabularies as llama.cpp runs them (LlamaVocabulary),
// the tokenizer keys llama.cpp's converter writes (TokenizerGGUFMetadata) and a tokenizer.json
// made from GGUF keys. Unicode tables are generated from what tokenizers answers.

import JSON

/// A text tokenizer read from a model directory's `tokenizer.json` (tokenizing as HF
/// `tokenizers` 0.23.3 does) or from a GGUF's `tokenizer.ggml.*` keys (tokenizing as llama.cpp
/// does).
///
/// ```swift
/// let tokenizer = try Tokenizer(directory: "model/")
/// let ids = try tokenizer.encode("Hello world", addSpecialTokens: true)
/// let text = try tokenizer.decode(ids, skipSpecialTokens: true)
/// ```
public struct Tokenizer: Sendable {
    enum Backend: Sendable {
        case huggingFace(HuggingFaceTokenizer)
        case llama(LlamaVocabulary)
    }

    let backend: Backend

    /// The tokenizer of a model directory: `tokenizer.json` (with `tokenizer_config.json` beside it).
    public init(directory: String) throws {
        let path = Paths.join(directory, "tokenizer.json")
        guard Paths.exists(path) else {
            throw TokenizerError.unreadable(path: path, problem: "no tokenizer.json in the directory")
        }
        try self.init(tokenizerJSON: try Paths.readFile(path), path: path)
    }

    /// A tokenizer from the bytes of a `tokenizer.json`; `path` names it in errors.
    public init(tokenizerJSON bytes: [UInt8], path: String) throws(TokenizerError) {
        let document: JSONValue
        do {
            document = try JSONValue.parse(bytes)
        } catch {
            throw .unreadable(path: path, problem: error.description)
        }
        backend = .huggingFace(try HuggingFaceTokenizer(document: document, path: path))
    }

    /// The tokenizer a GGUF file carries in its `tokenizer.ggml.*` keys, tokenizing as llama.cpp.
    public init(gguf: GGUFFile) throws(TokenizerError) {
        try self.init(ggufMetadata: gguf.metadata, path: gguf.path)
    }

    /// A tokenizer from GGUF metadata (`tokenizer.ggml.*`, and `general.name` for llama.cpp's
    /// name-based token attributes); `path` names it in errors.
    public init(ggufMetadata: Metadata<GGUFValue>, path: String) throws(TokenizerError) {
        backend = .llama(try LlamaVocabulary(metadata: ggufMetadata, path: path))
    }

    init(backend: Backend) {
        self.backend = backend
    }

    /// The token ids of `text`; with `addSpecialTokens`, also the ones the tokenizer adds around it
    /// (Llama's BOS): the post-processor's for `tokenizer.json`, `add_bos_token`/`add_eos_token`
    /// for GGUF.
    /// - Parameter recognizeSpecialTokens: whether special tokens written in the text (`<|im_end|>`)
    ///   become their ids; when false they are tokenized as text (HF's `encode_special_tokens`,
    ///   llama.cpp's `parse_special` off). Non-special added tokens are matched either way.
    /// - Throws: `TokenizerError.untokenizable` for a GGUF SentencePiece vocabulary on text
    ///   llama.cpp cannot tokenize, and for a regex of the tokenizer that backtracks without
    ///   end on the text (HF tokenizers fails there too).
    /// - Complexity: O(n log n) in the length of the text.
    public func encode(_ text: String, addSpecialTokens: Bool = true, recognizeSpecialTokens: Bool = true) throws(TokenizerError) -> [Int] {
        switch backend {
        case .huggingFace(let hf):
            return try hf.encode(text, addSpecialTokens: addSpecialTokens, recognizeSpecialTokens: recognizeSpecialTokens)
        case .llama(let vocabulary):
            return try vocabulary.tokenize(text, addSpecial: addSpecialTokens, parseSpecial: recognizeSpecialTokens)
        }
    }

    /// The text of `ids`. Ids outside the vocabulary are skipped (as both references do).
    /// - Throws: `TokenizerError.untokenizable` when a `tokenizer.json` decoder's regex
    ///   backtracks without end.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) throws(TokenizerError) -> String {
        switch backend {
        case .huggingFace(let hf): return try hf.decode(ids, skipSpecialTokens: skipSpecialTokens)
        case .llama(let vocabulary): return vocabulary.detokenize(ids, removeSpecial: false, unparseSpecial: !skipSpecialTokens)
        }
    }

    /// llama.cpp's `llama_detokenize` with both of its flags (nil for a `tokenizer.json` tokenizer):
    /// `removeSpecial` drops a leading BOS and trailing EOS the vocabulary adds, `unparseSpecial`
    /// writes control tokens as their text.
    public func llamaDetokenize(_ ids: [Int], removeSpecial: Bool, unparseSpecial: Bool) -> String? {
        guard case .llama(let vocabulary) = backend else { return nil }
        return vocabulary.detokenize(ids, removeSpecial: removeSpecial, unparseSpecial: unparseSpecial)
    }

    /// The vocabulary entry of a token id as stored (byte-level tokens in their mapped spelling,
    /// `Ġhello`), for printing; nil outside the vocabulary.
    public func tokenPiece(_ id: Int) -> String? {
        switch backend {
        case .huggingFace(let hf): return hf.token(id)
        case .llama(let vocabulary): return vocabulary.token(id)
        }
    }

    /// The id of a vocabulary entry (`<|im_end|>`), if any.
    public func tokenID(_ piece: String) -> Int? {
        switch backend {
        case .huggingFace(let hf): return hf.id(of: piece)
        case .llama(let vocabulary): return vocabulary.id(of: piece)
        }
    }

    /// The number of ids: the largest id plus one.
    public var vocabularySize: Int {
        switch backend {
        case .huggingFace(let hf): return hf.vocabularySize
        case .llama(let vocabulary): return vocabulary.tokens.count
        }
    }
}

/// What `inspect` shows of a tokenizer.
public struct TokenizerSummary: Sendable, Equatable {
    /// `BPE` for tokenizer.json, `gpt2` or `llama` (the `tokenizer.ggml.model`) for GGUF.
    public var model: String
    /// The pre-tokenizer: the tokenizer.json component types (`Sequence[Split, ByteLevel]`) or
    /// `tokenizer.ggml.pre`.
    public var preTokenizer: String
    public var vocabularySize: Int
    /// Special tokens by id, with their text.
    public var specialTokens: [Int: String]
    /// The ids `encode(_:addSpecialTokens: true)` puts before and after the text.
    public var addedBefore: [Int]
    public var addedAfter: [Int]
}

extension Tokenizer {
    public var summary: TokenizerSummary {
        switch backend {
        case .huggingFace(let hf):
            func describe(_ value: JSONValue?) -> String {
                guard let type = value?["type"]?.stringValue else { return "none" }
                if let items = value?["pretokenizers"]?.arrayValue ?? value?["normalizers"]?.arrayValue {
                    return "\(type)[\(items.map { describe($0) }.joined(separator: ", "))]"
                }
                return type
            }
            var specials: [Int: String] = [:]
            for (id, token) in hf.added.tokens where token.special { specials[id] = token.content }
            let around: (leading: [Int], trailing: [Int]) = hf.postProcessor?.addedAround ?? ([], [])
            return TokenizerSummary(model: "BPE", preTokenizer: describe(hf.document["pre_tokenizer"]),
                                    vocabularySize: vocabularySize, specialTokens: specials,
                                    addedBefore: around.leading, addedAfter: around.trailing)
        case .llama(let vocabulary):
            var specials: [Int: String] = [:]
            for (id, attribute) in vocabulary.attributes.enumerated() where attribute.contains(.control) { specials[id] = vocabulary.tokens[id] }
            return TokenizerSummary(model: vocabulary.kind.rawValue, preTokenizer: vocabulary.kind == .spm ? "default" : vocabulary.pre,
                                    vocabularySize: vocabulary.tokens.count, specialTokens: specials,
                                    addedBefore: vocabulary.addBOS ? vocabulary.bos.map { [$0] } ?? [] : [],
                                    addedAfter: vocabulary.addEOS ? vocabulary.eos.map { [$0] } ?? [] : [])
        }
    }
}
