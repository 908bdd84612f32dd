import ArgumentParser
import GateSurgeon

/// Where a command's tokens come from: ids as given, or text that the
/// model's own tokenizer turns into ids (a GGUF's as llama.cpp does, a
/// model directory's tokenizer.json as HF tokenizers does).
struct PromptOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Token ids, comma-separated.", valueName: "ids"))
    var tokens: TokenList?

    @Option(help: ArgumentHelp("Text to run, tokenized with the model's own tokenizer.", valueName: "text"))
    var prompt: String?

    @Option(help: ArgumentHelp("A UTF-8 text file to run, tokenized with the model's own tokenizer.", valueName: "path"))
    var promptFile: String?

    @Flag(help: "With --prompt/--prompt-file: add no tokens around the text (the BOS the tokenizer adds by default).")
    var noSpecialTokens = false

    /// Whether any of --tokens, --prompt, --prompt-file was given.
    var isGiven: Bool { tokens != nil || prompt != nil || promptFile != nil }

    /// Files read besides the model, which outputs may not overlap.
    var inputs: [String] { promptFile.map { [$0] } ?? [] }

    func validate() throws {
        let given = [("--tokens", tokens != nil), ("--prompt", prompt != nil), ("--prompt-file", promptFile != nil)].filter(\.1).map(\.0)
        if given.count > 1 {
            throw ValidationError("give one of \(given.joined(separator: ", ")), not several")
        }
        if noSpecialTokens && prompt == nil && promptFile == nil {
            throw ValidationError("--no-special-tokens applies to --prompt and --prompt-file")
        }
    }

    /// The token ids for `graph` and the model's tokenizer (for text, the one
    /// that made them; for ids, when it has a readable one, to show their
    /// text); nil when none of the options was given.
    /// - Throws: `TokenizerError.noTokenizer` for text and a model without a
    ///   tokenizer; the file's errors for --prompt-file; a tokenizer error for
    ///   text its vocabulary cannot hold.
    func resolve(for graph: ModelGraph) throws -> Prompt? {
        if let tokens { return Prompt(ids: tokens.ids, text: nil, tokenizer: try? Tokenizer(model: graph)) }
        guard let text = try promptText() else { return nil }
        guard let tokenizer = try Tokenizer(model: graph) else { throw TokenizerError.noTokenizer(model: graph.sourcePath) }
        let ids = try tokenizer.encode(text, addSpecialTokens: !noSpecialTokens)
        guard !ids.isEmpty else {
            throw TokenizerError.untokenizable(path: promptFile ?? graph.sourcePath, problem: "the prompt has no tokens")
        }
        return Prompt(ids: ids, text: text, tokenizer: tokenizer)
    }

    private func promptText() throws -> String? {
        if let prompt { return prompt }
        guard let promptFile else { return nil }
        return try TextFile.read(promptFile)
    }
}

/// Token ids to run, with the text and tokenizer they came from.
struct Prompt {
    var ids: [Int]
    var text: String?
    var tokenizer: Tokenizer?

    /// How the tokenizer spells `id` (its vocabulary entry: `ĠParis`), or `#id`.
    func piece(_ id: Int) -> String {
        tokenizer?.tokenPiece(id) ?? "#\(id)"
    }

    /// The text `id` decodes to on its own (` Paris`), or `#id`.
    /// - Throws: the tokenizer's error when its decoder's regex backtracks without end.
    func text(of id: Int) throws(TokenizerError) -> String {
        try tokenizer?.decode([id]) ?? "#\(id)"
    }

    /// How text reports show `id`: the text it decodes to, except that a
    /// SentencePiece piece keeps its word-boundary mark (`▁the`): decoded
    /// alone it loses its leading space and would look like `the`.
    /// (Byte-level vocabularies spell a space `Ġ` and decode it to a visible
    /// ` `; no byte-level piece holds a literal `▁`.)
    func shown(_ id: Int) throws(TokenizerError) -> String {
        if let piece = tokenizer?.tokenPiece(id), piece.unicodeScalars.contains("\u{2581}") { return piece }
        return try text(of: id)
    }
}

/// Text files the user names (prompts, importance-matrix texts).
enum TextFile {
    /// The file's contents as UTF-8 text.
    /// - Throws: the file's read error; `TokenizerError.unreadable` naming the
    ///   byte where the text stops being UTF-8.
    static func read(_ path: String) throws -> String {
        let bytes = try Paths.readFile(path)
        if let offset = bytes.withUnsafeBytes({ UTF8Validation.firstInvalidOffset(in: $0) }) {
            throw TokenizerError.unreadable(path: path, problem: "not UTF-8 text (byte \(offset))")
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
