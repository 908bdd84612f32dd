extension Tokenizer {
    /// The tokenizer a model comes with, or nil when it has none:
    /// - a GGUF's `tokenizer.ggml.*` keys, tokenizing as llama.cpp does;
    /// - else the `tokenizer.json` of the model directory (or beside a single
    ///   `.safetensors` file), tokenizing as HF `tokenizers` does;
    /// - else its SentencePiece `tokenizer.model`, tokenizing as llama.cpp
    ///   does once the converter has written it to GGUF.
    /// - Throws: `TokenizerError` for tokenizer files that are malformed or use
    ///   components gatesurgeon does not implement.
    public init?(model graph: ModelGraph) throws {
        if let metadata = graph.ggufMetadata {
            guard metadata["tokenizer.ggml.model"] != nil else { return nil }
            try self.init(ggufMetadata: metadata, path: graph.sourcePath)
            return
        }
        let folder = Paths.isDirectory(graph.sourcePath) ? graph.sourcePath : Paths.directory(of: graph.sourcePath)
        if Paths.exists(Paths.join(folder, "tokenizer.json")) {
            try self.init(directory: folder)
        } else if Paths.exists(Paths.join(folder, "tokenizer.model")),
            let keys = try TokenizerGGUFMetadata(directory: folder, vocabularySize: graph.config.vocabSize,
                                                 model: graph.config.architecture.vocabulary)
        {
            try self.init(ggufMetadata: keys.keys, path: Paths.join(folder, "tokenizer.model"))
        } else {
            return nil
        }
    }
}
