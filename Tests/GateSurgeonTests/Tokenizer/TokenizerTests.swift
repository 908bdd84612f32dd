import GateSurgeon
import JSON
import Testing

@Suite struct TokenizerHFTests {
    /// Every corpus string, with and without special tokens, and both decodings, equal to HF's.
    @Test(arguments: TokenizerFixtures.names)
    func matchesTokenizers(name: String) throws {
        let tokenizer = try Tokenizer(directory: TokenizerFixtures.directory(name))
        let cases = try #require(try TokenizerFixtures.expected(name)["cases"]?.arrayValue)
        let texts = TokenizerFixtures.corpus
        #expect(cases.count == texts.count)
        var mismatches = 0
        for (text, expected) in zip(texts, cases) {
            let plain = try tokenizer.encode(text, addSpecialTokens: false)
            let special = try tokenizer.encode(text, addSpecialTokens: true)
            let ids = TokenizerFixtures.ints(expected["ids"])
            let idsSpecial = TokenizerFixtures.ints(expected["ids_special"])
            let decoded = try tokenizer.decode(idsSpecial, skipSpecialTokens: false)
            let decodedSkip = try tokenizer.decode(idsSpecial, skipSpecialTokens: true)
            let pieces = try idsSpecial.map { id throws(TokenizerError) in try tokenizer.decode([id]) }
            let expectedPieces = (expected["pieces"]?.arrayValue ?? []).map { $0.stringValue ?? "" }
            let ok = plain == ids && special == idsSpecial && decoded == expected["decoded"]?.stringValue
                && decodedSkip == expected["decoded_skip_special"]?.stringValue && pieces == expectedPieces
            if !ok {
                mismatches += 1
                #expect(plain == ids, "\(name): \(text.debugDescription)")
                #expect(special == idsSpecial, "\(name): \(text.debugDescription) with special tokens")
                #expect(decoded == expected["decoded"]?.stringValue, "\(name): decode of \(text.debugDescription)")
                #expect(decodedSkip == expected["decoded_skip_special"]?.stringValue, "\(name): decode skipping special tokens of \(text.debugDescription)")
                #expect(pieces == expectedPieces, "\(name): single-token decodes of \(text.debugDescription)")
            }
        }
        #expect(mismatches == 0, "\(name): \(mismatches) of \(texts.count) corpus strings differ from HF tokenizers")
    }
}

/// convert_hf_to_gguf.py's tokenizer keys (`--vocab-only` on a directory carrying each tokenizer).
@Suite struct TokenizerGGUFTests {
    /// The digest fixtures/gen/tokenizers.py records for arrays: u32 length + UTF-8 per string,
    /// 4 little-endian bytes per INT32/FLOAT32/UINT32, one byte per BOOL.
    static func digest(_ values: [GGUFValue]) -> String {
        var bytes: [UInt8] = []
        func le(_ v: UInt32) { bytes += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)] }
        for value in values {
            switch value {
            case .string(let s): le(UInt32(s.utf8.count)); bytes += Array(s.utf8)
            case .int32(let v): le(UInt32(bitPattern: v))
            case .uint32(let v): le(v)
            case .float32(let v): le(v.bitPattern)
            case .bool(let b): bytes.append(b ? 1 : 0)
            default: bytes.append(0xFF)
            }
        }
        return SHA256.hexDigest(bytes)
    }

    static func matches(_ value: GGUFValue, _ expected: JSONValue) -> Bool {
        switch value {
        case .string(let s): return expected.stringValue == s
        case .bool(let b): return expected.boolValue == b
        case .float32(let f): return expected.doubleValue.map { Float($0) == f } ?? false
        default: return value.intValue != nil && Int64(value.intValue!) == expected.intValue
        }
    }

    /// `keys` are the converter's `tokenizer.*` keys recorded in `expected` (expected.json's
    /// `gguf_keys`): the same keys in the same order, types, values, array digests.
    static func expectConverterKeys(_ keys: Metadata<GGUFValue>, expected: JSONValue, name: String,
                                    sourceLocation: SourceLocation = #_sourceLocation) throws {
        let references = try #require(expected["gguf_keys"]?.arrayValue, sourceLocation: sourceLocation)
        #expect(keys.keys == references.map { $0["key"]!.stringValue! }, "\(name): key order", sourceLocation: sourceLocation)
        for (actual, reference) in Fixtures.pairs(keys.entries, references, sourceLocation: sourceLocation) {
            #expect(actual.value.type.name == reference["type"]?.stringValue, "\(name): \(actual.key) type", sourceLocation: sourceLocation)
            if case .array(let elementType, let values) = actual.value {
                #expect(elementType.name == reference["element_type"]?.stringValue, "\(name): \(actual.key) element type", sourceLocation: sourceLocation)
                #expect(values.count == Int(reference["count"]?.intValue ?? -1), "\(name): \(actual.key) count", sourceLocation: sourceLocation)
                #expect(digest(Array(values)) == reference["sha256"]?.stringValue, "\(name): \(actual.key) digest", sourceLocation: sourceLocation)
                let first = reference["first"]?.arrayValue ?? []
                #expect(zip(values, first).allSatisfy { matches($0, $1) }, "\(name): \(actual.key) first values", sourceLocation: sourceLocation)
            } else {
                #expect(matches(actual.value, try #require(reference["value"])), "\(name): \(actual.key) = \(actual.value)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test(arguments: TokenizerFixtures.converted)
    func keysEqualTheConverters(name: String) throws {
        let expected = try TokenizerFixtures.expected(name)
        let metadata = try #require(try TokenizerFixtures.metadata(name))
        try Self.expectConverterKeys(metadata.keys, expected: expected, name: name)
        let converter = expected["converter"]
        if let hash = converter?["chkhsh"]?.stringValue {
            #expect(metadata.checkHash == hash, "\(name): chkhsh")
            let pre = metadata.keys.first { $0.key == "tokenizer.ggml.pre" }?.value.stringValue
            if let known = converter?["pre"]?.stringValue {
                #expect(pre == known)
                #expect(metadata.warnings.isEmpty)
            } else {
                // an unknown hash: the converter stops; gatesurgeon names the configuration and warns
                #expect(pre == converter?["fallback"]?.stringValue)
                #expect(metadata.warnings.count == 1)
            }
        } else {
            #expect(metadata.checkHash == nil)
        }
    }

    /// The check text is the converter's, and the hash table is the converter's.
    @Test func checkTextAndHashTable() throws {
        let corpus = try Fixtures.json("tokenizers/corpus.json")
        let index = Int(try #require(corpus["chktxt_index"]?.intValue))
        #expect(TokenizerFixtures.corpus[index] == TokenizerGGUFMetadata.checkText)
        let table = try #require(try Fixtures.json("tokenizers/pre-hashes.json").arrayValue)
        #expect(table.count == TokenizerGGUFMetadata.knownHashes.count)
        for (reference, entry) in zip(table, TokenizerGGUFMetadata.knownHashes) {
            #expect(reference.arrayValue?.first?.stringValue == entry.hash)
            #expect(reference.arrayValue?.last?.stringValue == entry.name)
        }
    }
}

/// llama.cpp's tokenization of the corpus with the converter's GGUF keys (llama-cpp-python's
/// `llama_tokenize`/`llama_detokenize` on a vocab-only model).
@Suite struct TokenizerLlamaCppTests {
    @Test(arguments: TokenizerFixtures.converted)
    func matchesLlamaCpp(name: String) throws {
        let expected = try TokenizerFixtures.expected(name)
        // these keys equal the converter's (TokenizerGGUFTests)
        let metadata = try #require(try TokenizerFixtures.metadata(name))
        let tokenizer = try Tokenizer(ggufMetadata: metadata.keys, path: name)
        let cases = try #require(expected["llamacpp"]?.arrayValue)
        var mismatches = 0
        for (text, reference) in Fixtures.pairs(TokenizerFixtures.corpus, cases) {
            if reference["abort"]?.boolValue == true {
                // llama.cpp stopped in one of the three calls the generator makes, in this order
                #expect(throws: TokenizerError.self, "\(name): llama.cpp aborts on \(text.debugDescription)") {
                    _ = try tokenizer.encode(text, addSpecialTokens: false)
                    _ = try tokenizer.encode(text, addSpecialTokens: true)
                    _ = try tokenizer.encode(text, addSpecialTokens: false, recognizeSpecialTokens: false)
                }
                continue
            }
            let ids = try tokenizer.encode(text, addSpecialTokens: false)
            let idsSpecial = try tokenizer.encode(text, addSpecialTokens: true)
            let unparsed = try tokenizer.encode(text, addSpecialTokens: false, recognizeSpecialTokens: false)
            let expectedSpecial = TokenizerFixtures.ints(reference["ids_special"])
            let detokenized = try tokenizer.decode(expectedSpecial, skipSpecialTokens: false)
            let plain = tokenizer.llamaDetokenize(expectedSpecial, removeSpecial: true, unparseSpecial: false)
            let pieces = try expectedSpecial.map { id throws(TokenizerError) in try tokenizer.decode([id]) }
            let expectedPieces = (reference["pieces"]?.arrayValue ?? []).map { $0.stringValue ?? "" }
            let ok = ids == TokenizerFixtures.ints(reference["ids"]) && idsSpecial == expectedSpecial && pieces == expectedPieces
                && unparsed == TokenizerFixtures.ints(reference["ids_unparsed"])
                && detokenized == reference["detokenized"]?.stringValue && plain == reference["detokenized_plain"]?.stringValue
            if !ok {
                mismatches += 1
                #expect(ids == TokenizerFixtures.ints(reference["ids"]), "\(name): \(text.debugDescription)")
                #expect(idsSpecial == expectedSpecial, "\(name): \(text.debugDescription) with special tokens")
                #expect(unparsed == TokenizerFixtures.ints(reference["ids_unparsed"]), "\(name): \(text.debugDescription) unparsed")
                #expect(detokenized == reference["detokenized"]?.stringValue, "\(name): detokenize \(text.debugDescription)")
                #expect(plain == reference["detokenized_plain"]?.stringValue, "\(name): detokenize plain \(text.debugDescription)")
                #expect(pieces == expectedPieces, "\(name): single-token detokenize of \(text.debugDescription)")
            }
        }
        #expect(mismatches == 0, "\(name): \(mismatches) corpus strings differ from llama.cpp")
    }
}

/// Not a timed assertion: tokenizes the corpus repeated to 1 MB (128 KB in a debug build, where
/// it is ~60 times slower) with the real vocabularies and prints how long it took;
/// `gatesurgeon-bench --tokenize DIR` measures 1 MB in a release build.
@Suite struct TokenizerSpeedTests {
    #if DEBUG
    static let size = 1 << 17
    #else
    static let size = 1 << 20
    #endif

    @Test(arguments: ["qwen2-real", "smollm2"])
    func oneMegabyte(name: String) throws {
        var text = ""
        while text.utf8.count < Self.size { for t in TokenizerFixtures.corpus { text += t + "\n" } }
        let tokenizer = try Tokenizer(directory: TokenizerFixtures.directory(name))
        let clock = ContinuousClock()
        var ids: [Int] = []
        let elapsed = try clock.measure { ids = try tokenizer.encode(text) }
        print("\(name): \(text.utf8.count) bytes -> \(ids.count) tokens in \(elapsed)")
        // the pieces between corpus strings tokenize as they do alone
        let first = try tokenizer.encode(TokenizerFixtures.corpus[10], addSpecialTokens: false)
        #expect(ids.count > text.utf8.count / 8)
        #expect(!first.isEmpty)
    }
}

/// The published SmolLM2 GGUF itself (fetched by fixtures/gen/real.py into fixtures/.work, not
/// committed): read with GGUFFile, it tokenizes the corpus as llama.cpp did (the generator checked
/// llama.cpp gives the same ids with it as with the converter's file of the rebuilt directory).
@Suite struct TokenizerRealGGUFTests {
    static let path = Fixtures.path(".work/real/SmolLM2-135M-Instruct.Q4_1.gguf")

    @Test(.enabled(if: Paths.exists(path))) func publishedSmolLM2() throws {
        let tokenizer = try Tokenizer(gguf: try GGUFFile(path: Self.path))
        #expect(tokenizer.summary.preTokenizer == "smollm")
        let cases = try #require(try TokenizerFixtures.expected("smollm2")["llamacpp"]?.arrayValue)
        var mismatches = 0
        for (text, reference) in Fixtures.pairs(TokenizerFixtures.corpus, cases) {
            if try tokenizer.encode(text, addSpecialTokens: true) != TokenizerFixtures.ints(reference["ids_special"]) { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }
}

/// Directory -> the converter's GGUF keys -> tokenizer.json written back: the written pipeline
/// tokenizes the corpus exactly as HF tokenized the original directory.
@Suite struct TokenizerRoundTripTests {
    @Test(arguments: ["gpt2", "llama3", "qwen2", "smollm2", "qwen2-real", "models-llama"])
    func directoryToGGUFToDirectory(name: String) throws {
        let metadata = try #require(try TokenizerGGUFMetadata(directory: TokenizerFixtures.directory(name),
                                                                model: try TokenizerFixtures.model(name)))
        let gguf = try Tokenizer(ggufMetadata: metadata.keys, path: name)
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        try gguf.writeTransformersFiles(to: directory)
        let rebuilt = try Tokenizer(directory: directory)
        let config = try JSONValue.parse(try Paths.readFile(Paths.join(directory, "tokenizer_config.json")))
        #expect(config["tokenizer_class"]?.stringValue == "PreTrainedTokenizerFast")
        let cases = try #require(try TokenizerFixtures.expected(name)["cases"]?.arrayValue)
        var mismatches = 0
        for (text, reference) in Fixtures.pairs(TokenizerFixtures.corpus, cases) {
            let plain = try rebuilt.encode(text, addSpecialTokens: false)
            let special = try rebuilt.encode(text, addSpecialTokens: true)
            if plain != TokenizerFixtures.ints(reference["ids"]) || special != TokenizerFixtures.ints(reference["ids_special"]) {
                mismatches += 1
                #expect(plain == TokenizerFixtures.ints(reference["ids"]), "\(name): \(text.debugDescription)")
                #expect(special == TokenizerFixtures.ints(reference["ids_special"]), "\(name): \(text.debugDescription) with special tokens")
            }
        }
        #expect(mismatches == 0, "\(name): \(mismatches) corpus strings tokenize differently after the round trip")
    }

    /// A vocabulary written by `_set_vocab_llama_hf` has every score -1000: no merge order left.
    @Test func equalScoresAreRefused() throws {
        let metadata = try #require(try TokenizerGGUFMetadata(directory: TokenizerFixtures.directory("llama2-spbpe"), model: .llama))
        let gguf = try Tokenizer(ggufMetadata: metadata.keys, path: "llama2.gguf")
        #expect(throws: TokenizerError.self) { _ = try gguf.transformersFiles() }
    }
}

@Suite struct TokenizerSummaryTests {
    @Test func summariesOfBothKinds() throws {
        let hf = try Tokenizer(directory: TokenizerFixtures.directory("llama3"))
        let bos = try #require(hf.tokenID("<|begin_of_text|>"))
        let eot = try #require(hf.tokenID("<|eot_id|>"))
        #expect(hf.tokenPiece(eot) == "<|eot_id|>")
        #expect(hf.tokenPiece(-1) == nil && hf.tokenPiece(1 << 30) == nil)
        let summary = hf.summary
        #expect(summary.model == "BPE")
        #expect(summary.preTokenizer == "Sequence[Split, ByteLevel]")
        #expect(summary.addedBefore == [bos] && summary.addedAfter.isEmpty)
        #expect(summary.specialTokens[eot] == "<|eot_id|>")
        #expect(summary.vocabularySize == hf.vocabularySize)

        let metadata = try #require(try TokenizerGGUFMetadata(directory: TokenizerFixtures.directory("llama3"), model: .llama))
        let gguf = try Tokenizer(ggufMetadata: metadata.keys, path: "llama3.gguf")
        #expect(gguf.summary.model == "gpt2")
        #expect(gguf.summary.preTokenizer == "llama-bpe")
        #expect(gguf.summary.addedBefore == [bos])
        #expect(gguf.tokenID("<|eot_id|>") == eot && gguf.tokenPiece(eot) == "<|eot_id|>")
        #expect(hf.llamaDetokenize([bos], removeSpecial: false, unparseSpecial: true) == nil)
    }
}
