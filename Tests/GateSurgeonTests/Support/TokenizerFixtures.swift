import GateSurgeon
import JSON

/// The reference tokenizers under fixtures/tokenizers (see fixtures/README.md) and what HF
/// `tokenizers` 0.23.3, llama.cpp's converter and llama.cpp made of the corpus.
enum TokenizerFixtures {
    static let names = ["gpt2", "llama3", "qwen2", "llama2-spbpe", "models-llama", "smollm2", "qwen2-real",
                        "v-nfkc-lower", "v-nfd-strip", "v-nfkd-replace", "v-punct-ws", "v-whitespace", "v-behaviours",
                        "v-invert", "v-gpt4o", "v-possessive", "v-prefix-space", "v-metaspace", "v-metaspace-first",
                        "v-subword-affixes"]
    /// The ones the converter ran on (a tiny model directory carrying the tokenizer).
    static let converted = ["gpt2", "llama3", "qwen2", "llama2-spbpe", "models-llama", "smollm2", "qwen2-real",
                            "v-nfkc-lower", "v-nfd-strip", "v-nfkd-replace", "v-punct-ws", "v-whitespace", "v-behaviours",
                            "v-invert", "v-gpt4o", "v-possessive", "v-prefix-space"]

    /// The converter's keys, the pre name for an unknown hash being the one the generator gave the
    /// converter for the variants (the tiny GPT-2/Llama 3/Qwen2 ones use gatesurgeon's own fallback,
    /// the name of their configuration, which is what the generator gave).
    static func metadata(_ name: String) throws -> TokenizerGGUFMetadata? {
        let fallback = name.hasPrefix("v-") ? try expected(name)["converter"]?["fallback"]?.stringValue : nil
        return try TokenizerGGUFMetadata(directory: directory(name), model: try model(name), unknownHashName: fallback)
    }

    static func directory(_ name: String) -> String { Fixtures.path("tokenizers/\(name)") }

    static let corpus: [String] = {
        (try! Fixtures.json("tokenizers/corpus.json"))["texts"]!.arrayValue!.map { $0.stringValue! }
    }()

    static func expected(_ name: String) throws -> JSONValue {
        try Fixtures.json("tokenizers/\(name)/expected.json")
    }

    static func ints(_ value: JSONValue?) -> [Int] {
        (value?.arrayValue ?? []).map { Int($0.intValue!) }
    }

    static func model(_ name: String) throws -> TokenizerGGUFMetadata.ConverterModel {
        let config = try Fixtures.json("tokenizers/\(name)/config.json")
        return config["model_type"]?.stringValue == "qwen2" ? .qwen2 : .llama
    }
}
