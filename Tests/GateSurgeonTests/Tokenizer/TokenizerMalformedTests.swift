@testable import GateSurgeon
import JSON
import Testing

/// Malformed tokenizer.json, tokenizer_config.json and GGUF tokenizer keys: one-line errors that
/// name the file and the key, never a crash or a silently different tokenizer.
@Suite struct TokenizerMalformedTests {
    static let base: JSONValue = try! Fixtures.json("tokenizers/gpt2/tokenizer.json")

    /// `base` with the value at `path` (object keys) replaced, or removed when nil.
    static func mutated(_ path: [String], _ value: JSONValue?) -> JSONValue {
        func apply(_ node: JSONValue, _ rest: ArraySlice<String>) -> JSONValue {
            guard let key = rest.first, case .object(var object) = node else { return value ?? .null }
            if rest.count == 1 {
                object[key] = value
            } else {
                object[key] = apply(object[key] ?? .object([:]), rest.dropFirst())
            }
            return .object(object)
        }
        return apply(base, path[...])
    }

    static func error(_ document: JSONValue) -> TokenizerError? {
        do {
            _ = try Tokenizer(tokenizerJSON: Array(document.serialized().utf8), path: "model/tokenizer.json")
            return nil
        } catch {
            return error
        }
    }

    static func check(_ error: TokenizerError?, mentions words: [String]) {
        guard let error else {
            Issue.record("no error for \(words)")
            return
        }
        let text = error.description
        #expect(text.hasPrefix("model/tokenizer.json"), "\(text)")
        #expect(!text.contains("\n"))
        for word in words { #expect(text.contains(word), "\(text) should mention \(word)") }
    }

    @Test func unsupportedComponentsAreNamed() {
        Self.check(Self.error(Self.mutated(["model", "type"], .string("WordPiece"))), mentions: ["model type 'WordPiece'", "not supported"])
        Self.check(Self.error(Self.mutated(["pre_tokenizer"], .object(["type": .string("UnicodeScripts")]))),
                   mentions: ["pre_tokenizer type 'UnicodeScripts'", "not supported"])
        Self.check(Self.error(Self.mutated(["normalizer"], .object(["type": .string("Precompiled")]))),
                   mentions: ["normalizer type 'Precompiled'"])
        Self.check(Self.error(Self.mutated(["decoder"], .object(["type": .string("CTC")]))), mentions: ["decoder type 'CTC'"])
        Self.check(Self.error(Self.mutated(["post_processor"], .object(["type": .string("Weird")]))), mentions: ["post_processor type 'Weird'"])
        Self.check(Self.error(Self.mutated(["model", "dropout"], .double(0.1))), mentions: ["model.dropout"])
        let lookbehind: JSONValue = .object(["type": .string("Split"), "pattern": .object(["Regex": .string("(?<=a)b")]),
                                             "behavior": .string("Isolated"), "invert": .bool(false)])
        Self.check(Self.error(Self.mutated(["pre_tokenizer"], lookbehind)), mentions: ["pre_tokenizer.pattern", "(?<=a)b"])
        let script: JSONValue = .object(["type": .string("Split"), "pattern": .object(["Regex": .string("\\p{Han}+")]),
                                         "behavior": .string("Isolated"), "invert": .bool(false)])
        Self.check(Self.error(Self.mutated(["pre_tokenizer"], script)), mentions: ["\\p{Han}"])
    }

    @Test func wrongTypesAndRangesNameTheKey() {
        Self.check(Self.error(Self.mutated(["model", "vocab", "hello"], .int(-3))), mentions: ["model.vocab[\"hello\"]", "out of range"])
        Self.check(Self.error(Self.mutated(["model", "vocab", "hello"], .int(1 << 40))), mentions: ["model.vocab[\"hello\"]"])
        Self.check(Self.error(Self.mutated(["model", "vocab", "hello"], .string("7"))), mentions: ["model.vocab[\"hello\"]", "integer"])
        Self.check(Self.error(Self.mutated(["model", "merges"], .array([.array([.string("zz§"), .string("q")])]))),
                   mentions: ["model.merges[0]", "zz§"])
        Self.check(Self.error(Self.mutated(["model", "merges"], .array([.int(3)]))), mentions: ["model.merges[0]"])
        Self.check(Self.error(Self.mutated(["model", "merges"], .array([.string("a b c")]))), mentions: ["model.merges[0]"])
        Self.check(Self.error(Self.mutated(["model", "unk_token"], .string("<nope>"))), mentions: ["model.unk_token"])
        Self.check(Self.error(Self.mutated(["added_tokens"], .array([.object(["id": .string("x"), "content": .string("a")])]))),
                   mentions: ["added_tokens[0].id"])
        Self.check(Self.error(Self.mutated(["added_tokens"], .array([.object(["id": .int(1)])]))), mentions: ["added_tokens[0].content"])
        Self.check(Self.error(Self.mutated(["pre_tokenizer", "add_prefix_space"], .string("yes"))), mentions: ["pre_tokenizer.add_prefix_space"])
        Self.check(Self.error(Self.mutated(["version"], .string("2.0"))), mentions: ["version"])
        Self.check(Self.error(.array([])), mentions: ["(root)"])
        do {
            _ = try Tokenizer(tokenizerJSON: Array("{\"model\": ".utf8), path: "model/tokenizer.json")
            Issue.record("truncated JSON accepted")
        } catch {
            #expect(error.description.hasPrefix("model/tokenizer.json: "))
        }
    }

    @Test func malformedTokenizerConfig() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        try Fixtures.copyDirectory(from: TokenizerFixtures.directory("llama3"), to: Paths.join(directory, "m"))
        let model = Paths.join(directory, "m")
        try Paths.writeText("{\"add_prefix_space\": \"yes\"}", to: Paths.join(model, "tokenizer_config.json"))
        #expect(throws: TokenizerError.self) { _ = try TokenizerGGUFMetadata(directory: model, model: .llama) }
        do {
            _ = try TokenizerGGUFMetadata(directory: model, model: .llama)
        } catch {
            #expect("\(error)".contains("tokenizer_config.json: add_prefix_space"))
        }
        try Paths.writeText("{not json", to: Paths.join(model, "tokenizer_config.json"))
        do {
            _ = try TokenizerGGUFMetadata(directory: model, model: .llama)
            Issue.record("invalid tokenizer_config.json accepted")
        } catch {
            #expect("\(error)".contains("tokenizer_config.json"))
            #expect(!"\(error)".contains("\n"))
        }
        try Paths.writeText("{}", to: Paths.join(model, "tokenizer_config.json"))
        try Paths.writeText("{\"vocab_size\": 12}", to: Paths.join(model, "config.json"))
        do {
            _ = try TokenizerGGUFMetadata(directory: model, model: .llama)
            Issue.record("a vocab_size below the largest id accepted")
        } catch {
            #expect("\(error)".contains("config.json: vocab_size"))
        }
    }

    static let ggufKeys: Metadata<GGUFValue> = {
        let metadata = try! TokenizerGGUFMetadata(directory: TokenizerFixtures.directory("qwen2"), model: .qwen2)!
        return metadata.keys
    }()

    static func replacing(_ key: String, _ value: GGUFValue?) -> Metadata<GGUFValue> {
        var keys = ggufKeys
        keys[key] = nil
        keys[key] = value
        return keys
    }

    static func ggufError(_ keys: Metadata<GGUFValue>) -> String? {
        do {
            _ = try Tokenizer(ggufMetadata: keys, path: "model.gguf")
            return nil
        } catch {
            return error.description
        }
    }

    @Test func malformedGGUFKeys() throws {
        #expect(Self.ggufError(Self.ggufKeys) == nil)
        let cases: [(String, GGUFValue?, String)] = [
            ("tokenizer.ggml.tokens", .array(elementType: .int32, values: [.int32(1)]), "tokenizer.ggml.tokens"),
            ("tokenizer.ggml.tokens", nil, "tokenizer.ggml.tokens"),
            ("tokenizer.ggml.tokens", .string("abc"), "tokenizer.ggml.tokens"),
            ("tokenizer.ggml.token_type", .array(elementType: .int32, values: [.int32(1)]), "tokenizer.ggml.token_type"),
            ("tokenizer.ggml.token_type", .array(elementType: .float32, values: [.float32(1)]), "tokenizer.ggml.token_type"),
            ("tokenizer.ggml.scores", .array(elementType: .float32, values: [.float32(0)]), "tokenizer.ggml.scores"),
            ("tokenizer.ggml.merges", nil, "tokenizer.ggml.merges"),
            ("tokenizer.ggml.merges", .array(elementType: .uint8, values: [.uint8(1)]), "tokenizer.ggml.merges"),
            ("tokenizer.ggml.model", .string("bert"), "tokenizer.ggml.model 'bert'"),
            ("tokenizer.ggml.model", .uint32(3), "tokenizer.ggml.model"),
            ("tokenizer.ggml.pre", .string("no-such-pre"), "tokenizer.ggml.pre 'no-such-pre'"),
            ("tokenizer.ggml.pre", .string("kimi-k2"), "KIMI_K2"),
            ("tokenizer.ggml.pre", .string("superbpe"), "SUPERBPE"),
            ("tokenizer.ggml.pre", .string("gemma4"), "tokenizer.ggml.pre 'gemma4'"),
            ("tokenizer.ggml.bos_token_id", .string("1"), "tokenizer.ggml.bos_token_id"),
            ("tokenizer.ggml.add_bos_token", .uint8(1), "tokenizer.ggml.add_bos_token"),
        ]
        for (key, value, mention) in cases {
            let message = Self.ggufError(Self.replacing(key, value))
            #expect(message?.contains(mention) == true && message?.hasPrefix("model.gguf: ") == true && message?.contains("\n") == false,
                    "\(key): \(message ?? "no error")")
        }
        // out-of-range special ids keep llama.cpp's default, as it does (with a warning there)
        let outOfRange = try Tokenizer(ggufMetadata: Self.replacing("tokenizer.ggml.eos_token_id", .uint32(4_000_000_000)), path: "model.gguf")
        #expect(try outOfRange.encode("hello", addSpecialTokens: true) == (try Tokenizer(ggufMetadata: Self.ggufKeys, path: "x").encode("hello", addSpecialTokens: true)))
        #expect(try outOfRange.decode([-1, 5, 1 << 40]) == outOfRange.decode([5]))
    }
}

extension TokenizerMalformedTests {
    /// Values that would make tables or programs huge, and deep nesting, are refused; long runs of
    /// combining marks normalize in O(n log n), ordered as the short-run path orders them.
    @Test func hugeAndDeepInputs() throws {
        Self.check(Self.error(Self.mutated(["model", "vocab", "hello"], .int(2_000_000_000))), mentions: ["model.vocab[\"hello\"]", "out of range"])
        let deep = String(repeating: "(", count: 200) + "a" + String(repeating: ")", count: 200)
        let nested: JSONValue = .object(["type": .string("Split"), "pattern": .object(["Regex": .string(deep)]),
                                         "behavior": .string("Isolated"), "invert": .bool(false)])
        Self.check(Self.error(Self.mutated(["pre_tokenizer"], nested)), mentions: ["nested"])
        let big: JSONValue = .object(["type": .string("Split"), "pattern": .object(["Regex": .string("(ab|cd){5000}{5000}")]),
                                      "behavior": .string("Isolated"), "invert": .bool(false)])
        Self.check(Self.error(Self.mutated(["pre_tokenizer"], big)), mentions: ["too large"])
        let marks: [UInt32] = (0..<20_000).map { $0 % 2 == 0 ? 0x301 : 0x316 }
        let long = UnicodeNormalization.normalize([0x61] + marks, .nfd)
        let short = UnicodeNormalization.normalize([0x61] + Array(marks.prefix(20)), .nfd)
        #expect(long.count == 20_001)
        #expect(Array(long[1...10]) == Array(repeating: 0x316, count: 10) && Array(short[1...10]) == Array(repeating: 0x316, count: 10))
    }
}
