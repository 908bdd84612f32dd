/// Why a tokenizer could not be built or used. Each case names the file and the key.
public enum TokenizerError: Error, Sendable, CustomStringConvertible, Equatable {
    /// A component the file asks for that gatesurgeon does not implement, so it would tokenize
    /// differently: `pre_tokenizer type 'UnicodeScripts'`, `regex "(?<=a)b"`.
    case unsupported(path: String, component: String)
    /// A value of the wrong type, out of range, or inconsistent with the rest of the file.
    case invalid(path: String, key: String, problem: String)
    /// The file could not be read or parsed.
    case unreadable(path: String, problem: String)
    /// llama.cpp would stop on this text (an SPM vocabulary without the byte token a character
    /// needs); the text and the token are given.
    case untokenizable(path: String, problem: String)
    /// The model has no tokenizer: no tokenizer.json or tokenizer.model in
    /// or beside it, no `tokenizer.ggml.*` keys.
    case noTokenizer(model: String)

    public var description: String {
        switch self {
        case .unsupported(let path, let component): "\(path): \(component) is not supported"
        case .invalid(let path, let key, let problem): "\(path): \(key): \(problem)"
        case .unreadable(let path, let problem): "\(path): \(problem)"
        case .untokenizable(let path, let problem): "\(path): \(problem)"
        case .noTokenizer(let model): "\(model): the model has no tokenizer (no tokenizer.json or tokenizer.model, no tokenizer.ggml.* keys)"
        }
    }
}
