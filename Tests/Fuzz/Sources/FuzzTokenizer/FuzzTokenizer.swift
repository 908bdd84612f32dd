@testable import GateSurgeon
import FuzzSupport
import JSON

/// One tokenizer file, told apart by its first bytes: a GGUF file
/// (`tokenizer.ggml.*` keys), a tokenizer.json, or else a SentencePiece
/// tokenizer.model. Each tokenizer read is summarized, written back as
/// transformers files, and run on a few texts (encode, decode, llama.cpp's
/// detokenizer).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Fuzz.bytes(data, size)
    let tokenizer: Tokenizer?
    if bytes.starts(with: Array("GGUF".utf8)) {
        tokenizer = Fuzz.gguf(bytes)?.gguf.flatMap { try? Tokenizer(ggufMetadata: $0.metadata, path: $0.path) }
    } else if bytes.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x09 && $0 != 0x0D }) == UInt8(ascii: "{") {
        tokenizer = try? Tokenizer(tokenizerJSON: bytes, path: Fuzz.directory + "/tokenizer.json")
    } else {
        guard let pieces = try? SentencePieceModel.parse(bytes, path: Fuzz.directory + "/tokenizer.model"), !pieces.isEmpty,
            pieces.count < 1 << 16
        else { return 0 }
        // The keys convert_hf_to_gguf.py writes for a tokenizer.model
        // (`TokenizerGGUFMetadata.sentencePiece`), without the files around it.
        var keys = Metadata<GGUFValue>()
        keys["tokenizer.ggml.model"] = .string("llama")
        keys["tokenizer.ggml.pre"] = .string("default")
        keys["tokenizer.ggml.tokens"] = .array(elementType: .string, values: pieces.map { .string($0.text) })
        keys["tokenizer.ggml.scores"] = .array(elementType: .float32, values: pieces.map { .float32($0.score) })
        keys["tokenizer.ggml.token_type"] = .array(elementType: .int32, values: pieces.map { .int32($0.type.rawValue) })
        tokenizer = try? Tokenizer(ggufMetadata: keys, path: Fuzz.directory + "/tokenizer.model")
    }
    guard let tokenizer else { return 0 }
    _ = tokenizer.summary
    _ = try? tokenizer.transformersFiles()
    // The last text makes backtracking patterns such as (a+)+$ hit the regex step budget.
    for text in ["Hello, world! 123 4567", " \u{00e9}t\u{00e9} \u{65e5}\u{672c} \u{1F600}\n\n\t x", "<s></s><|endoftext|><unk>", "",
                 String(repeating: "a", count: 40) + "!"] {
        for special in [true, false] {
            guard let ids = try? tokenizer.encode(text, addSpecialTokens: special, recognizeSpecialTokens: special) else { continue }
            _ = try? tokenizer.decode(ids, skipSpecialTokens: special)
            _ = tokenizer.llamaDetokenize(ids, removeSpecial: special, unparseSpecial: !special)
            for id in ids.prefix(8) { _ = tokenizer.tokenPiece(id) }
        }
    }
    _ = tokenizer.tokenID("Hello")
    return 0
}

/// The entry point SwiftPM's link names `main` (see `Fuzz.runDriver`).
@_cdecl("fuzz_tokenizer_main")
public func fuzz_tokenizerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    Fuzz.runDriver(argc, argv, { data, size in fuzzTokenizer(data, size) })
}
