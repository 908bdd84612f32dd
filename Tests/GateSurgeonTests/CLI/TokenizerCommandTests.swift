import GateSurgeon
import Platform
import JSON
import Testing

/// The tokenizer where commands use it: the keys `convert` writes to GGUF
/// (the converter's), the tokenizer.json it writes back, text prompts in
/// `forward`/`verify` (HF's ids for a directory, llama.cpp's for a GGUF),
/// `inspect`'s summary and `imatrix` on a text.
@Suite struct TokenizerCommandTests {
    /// A random one-layer Llama model in `directory` carrying tokenizer
    /// fixture `name`: its tokenizer files, and its config's vocabulary size
    /// and token ids.
    static func modelWithTokenizer(_ name: String, in directory: String) throws -> String {
        let model = Paths.join(directory, name)
        mkdir(model, 0o755)
        let config = try #require(try Fixtures.json("tokenizers/\(name)/config.json").objectValue)
        var extra = JSONObject()
        for key in ["bos_token_id", "eos_token_id", "pad_token_id"] { extra[key] = config[key] }
        let vocab = Int(try #require(config["vocab_size"]?.intValue))
        try SyntheticModels.writeLlama(to: model, vocab: vocab, hidden: 8, intermediate: 8, layers: 1, extraConfig: extra)
        for file in ["tokenizer.json", "tokenizer_config.json"] {
            try Paths.copyFile(from: Fixtures.path("tokenizers/\(name)/\(file)"), to: Paths.join(model, file))
        }
        return model
    }

    static func tokenizerKeys(_ path: String) throws -> Metadata<GGUFValue> {
        Metadata(try GGUFFile(path: path).metadata.filter { $0.key.hasPrefix("tokenizer.") })
    }

    /// SmolLM2's real tokenizer (its hash is the converter's "smollm") and a
    /// Llama 3 pipeline whose hash the converter does not know: the GGUF
    /// holds the converter's keys; for the unknown hash gatesurgeon writes
    /// the configuration's name, as the fixture's converter run was told to,
    /// and warns unless --tokenizer-pre names it.
    @Test(arguments: [("smollm2", nil), ("llama3", "llama-bpe")] as [(String, String?)])
    func convertWritesTheConvertersKeys(name: String, unknownHashName: String?) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let model = try Self.modelWithTokenizer(name, in: directory)
        let expected = try TokenizerFixtures.expected(name)

        let plain = try CLI.succeed(["convert", model, Paths.join(directory, "plain.gguf"), "--quiet"])
        try TokenizerGGUFTests.expectConverterKeys(try Self.tokenizerKeys(Paths.join(directory, "plain.gguf")), expected: expected, name: name)
        if let unknownHashName {
            #expect(plain.errorOutput.contains("not in llama.cpp's converter table") && plain.errorOutput.contains("--tokenizer-pre"))
            let named = try CLI.succeed(["convert", model, Paths.join(directory, "named.gguf"), "--tokenizer-pre", unknownHashName, "--quiet"])
            #expect(!named.errorOutput.contains("converter table"), "\(named.errorOutput)")
            try TokenizerGGUFTests.expectConverterKeys(try Self.tokenizerKeys(Paths.join(directory, "named.gguf")), expected: expected, name: name)
        } else {
            #expect(plain.errorOutput.isEmpty, "\(plain.errorOutput)")
        }
    }

    /// dir -> GGUF -> dir: the directory gets a tokenizer.json that
    /// tokenizes the corpus as HF tokenizers tokenized the original (where
    /// llama.cpp agrees with HF, which it does on all of it for these two).
    @Test(arguments: ["smollm2", "llama3"])
    func roundTripKeepsTokenization(name: String) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let model = try Self.modelWithTokenizer(name, in: directory)
        let gguf = Paths.join(directory, "model.gguf")
        let back = Paths.join(directory, "back")
        try CLI.succeed(["convert", model, gguf, "--tokenizer-pre", name == "llama3" ? "llama-bpe" : "smollm", "--quiet"])
        try CLI.succeed(["convert", gguf, back + "/", "--quiet"])
        #expect(Paths.exists(Paths.join(back, "tokenizer.json")) && Paths.exists(Paths.join(back, "tokenizer_config.json")))
        let tokenizer = try Tokenizer(directory: back)
        let cases = try #require(try TokenizerFixtures.expected(name)["cases"]?.arrayValue)
        var differing: [Int] = []
        for (index, (text, expected)) in Fixtures.pairs(TokenizerFixtures.corpus, cases).enumerated()
        where try tokenizer.encode(text) != TokenizerFixtures.ints(expected["ids_special"]) {
            differing.append(index)
        }
        #expect(differing.isEmpty, "\(name): corpus strings tokenized differently after the round trip: \(differing)")
    }

    /// A tokenizer.json whose Split regex backtracks without end (`(a+)+$` on forty a's and a
    /// `!`, which HF tokenizers also fails) stops `forward --prompt` with one line naming the
    /// pattern. It runs as a process, killed after a minute: a guard against a hang, not a timing.
    @Test func backtrackingRegexEndsTheRunWithAnError() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let model = Paths.join(directory, "model")
        mkdir(model, 0o755)
        try SyntheticModels.writeLlama(to: model, vocab: 5, hidden: 8, intermediate: 8, layers: 1)
        try Paths.copyFile(from: Fixtures.path("tokenizers/hostile/split-nested-plus/tokenizer.json"), to: Paths.join(model, "tokenizer.json"))
        let (termination, errors) = try Executable.run(["forward", model, "--prompt", String(repeating: "a", count: 40) + "!"],
                                                       scratch: directory, seconds: 60)
        #expect(termination == .exited(2), "\(errors)")
        #expect(errors == "error: \(model)/tokenizer.json: regex \"(a+)+$\" backtracks without end on a text of 41 characters (stopped after 1041000 steps); HF tokenizers' regex engine stops at its retry limit too\n")
        try CLI.succeed(["forward", model, "--prompt", String(repeating: "a", count: 10) + "!"])
    }

    /// Token displays keep word boundaries visible: a SentencePiece piece
    /// with its `▁` (decoded alone, `▁tensor` would read `tensor`), a
    /// byte-level one as the text it decodes to (` world`, not `Ġworld`).
    @Test func tokenDisplaysShowWordBoundaries() throws {
        for model in [Fixtures.path("models/llama"), Fixtures.path("gguf/llama-f32.gguf")] {
            let text = try CLI.succeed(["forward", model, "--prompt", "the tensor files"]).output
            #expect(text.contains(#"tokens 4: 1 "<s>", 6 "▁the", 67 "▁tensor", 66 "▁files""#), "\(text)")
        }
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let gpt2 = try Self.modelWithTokenizer("gpt2", in: directory)
        let text = try CLI.succeed(["forward", gpt2, "--prompt", "hello world"]).output
        #expect(text.contains(#""hello", "#) && text.contains(#"" world""#) && !text.contains("Ġ"), "\(text)")
    }

    /// GGUF to a single .safetensors file: no place for the tokenizer, and the summary says so.
    @Test func singleFileOutputWarnsThatTheTokenizerIsLeftBehind() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let outcome = try CLI.succeed(["convert", Fixtures.path("gguf/llama-f32.gguf"), Paths.join(directory, "model.safetensors"), "--quiet"])
        #expect(outcome.errorOutput.contains("tokenizer was not written") && outcome.errorOutput.contains("model directory"))
    }

    static func forwardJSON(_ arguments: [String]) throws -> JSONValue {
        try JSONValue.parse(Array(try CLI.succeed(["forward"] + arguments + ["--json", "--quiet"]).output.utf8))
    }

    static func ids(_ value: JSONValue?) -> [Int] { TokenizerFixtures.ints(value) }

    /// --prompt tokenizes with the model's own tokenizer: a directory's
    /// tokenizer.json as HF tokenizers did, a GGUF's keys as llama.cpp did
    /// (the bundled models' 128-piece vocabulary; on the corpus strings
    /// llama.cpp can tokenize with it).
    @Test func promptsUseTheModelsOwnTokenizer() throws {
        let reference = try TokenizerFixtures.expected("models-llama")
        let hf = try #require(reference["cases"]?.arrayValue)
        let llamaCpp = try #require(reference["llamacpp"]?.arrayValue)
        var checked = 0
        for (index, text) in TokenizerFixtures.corpus.enumerated() where llamaCpp[index]["abort"] == nil {
            let directory = try Self.forwardJSON([Fixtures.path("models/llama"), "--prompt", text])
            #expect(Self.ids(directory["tokens"]) == Self.ids(hf[index]["ids_special"]), "HF ids of corpus string \(index)")
            let gguf = try Self.forwardJSON([Fixtures.path("gguf/llama-f32.gguf"), "--prompt", text])
            #expect(Self.ids(gguf["tokens"]) == Self.ids(llamaCpp[index]["ids_special"]), "llama.cpp ids of corpus string \(index)")
            if Self.ids(llamaCpp[index]["ids"]).isEmpty {
                // nothing to run: the empty string without BOS
                #expect(CLI.run(["forward", Fixtures.path("gguf/llama-f32.gguf"), "--prompt", text, "--no-special-tokens"]).status == 2)
            } else {
                let plain = try Self.forwardJSON([Fixtures.path("gguf/llama-f32.gguf"), "--prompt", text, "--no-special-tokens"])
                #expect(Self.ids(plain["tokens"]) == Self.ids(llamaCpp[index]["ids"]), "llama.cpp ids without BOS of corpus string \(index)")
            }
            checked += 1
        }
        #expect(checked == 10)
    }

    /// The next tokens forward ranks are the ones llama.cpp's logits rank
    /// first on the same file and ids (reference/llamacpp, F32 KV cache).
    @Test func nextTokensFollowLlamaCppsLogits() throws {
        let ids = [1, 17, 42, 99, 5, 64, 23, 7]
        let result = try Self.forwardJSON([Fixtures.path("gguf/llama-f32.gguf"), "--tokens", ids.map(String.init).joined(separator: ",")])
        let next = try #require(result["next_tokens"]?.arrayValue)
        let file = try SafetensorsFile(path: Fixtures.path("reference/llamacpp/llama-f32.safetensors"))
        let logits = try Fixtures.floats(file, "logits")
        let last = Array(logits[(ids.count - 1) * 128..<ids.count * 128])
        let ranked = last.indices.sorted { last[$0] > last[$1] }
        #expect(next.map { Int($0["id"]!.intValue!) } == Array(ranked.prefix(next.count)))
        #expect(next.count == 5)
        let probabilities = next.compactMap { $0["probability"]?.doubleValue }
        #expect(probabilities == probabilities.sorted(by: >) && probabilities.allSatisfy { $0 > 0 && $0 < 1 })
        // a GGUF's tokenizer gives each id its text
        #expect(next.allSatisfy { $0["text"]?.stringValue != nil })
    }

    /// verify --prompt runs A's ids on both and says when B's tokenizer
    /// would have made other ids (llama.cpp and HF differ on leading spaces
    /// with this vocabulary: corpus string 1).
    @Test func verifyReportsWhenTheTokenizersDisagree() throws {
        let reference = try TokenizerFixtures.expected("models-llama")
        let differing = Set(Self.ids(reference["llamacpp_differs_from_hf"]))
        let agreeing = TokenizerFixtures.corpus[0]
        let disagreeing = TokenizerFixtures.corpus[1]
        #expect(!differing.contains(0) && differing.contains(1))
        let same = try CLI.succeed(["verify", Fixtures.path("models/llama"), Fixtures.path("gguf/llama-f32.gguf"), "--prompt", agreeing, "--quiet"])
        #expect(!same.errorOutput.contains("B's tokenizer"))
        #expect(same.output.contains("next token, a:") && same.output.contains("next token, b:"))
        let other = try CLI.succeed(["verify", Fixtures.path("models/llama"), Fixtures.path("gguf/llama-f32.gguf"), "--prompt", disagreeing, "--quiet"])
        #expect(other.errorOutput.contains("B's tokenizer makes"))
        // --json carries the warning
        let json = try CLI.succeed(["verify", Fixtures.path("models/llama"), Fixtures.path("gguf/llama-f32.gguf"), "--prompt", disagreeing, "--json"])
        let warnings = try #require(try JSONValue.parse(Array(json.output.utf8))["warnings"]?.arrayValue).compactMap(\.stringValue)
        #expect(warnings.count == 1 && warnings[0].hasPrefix("B's tokenizer makes") && json.errorOutput.contains("warning: " + warnings[0]), "\(warnings)")
    }

    /// inspect's special tokens are the file's control tokens (token type 3).
    @Test func inspectSummarizesTheTokenizer() throws {
        let path = Fixtures.path("gguf/llama-f32.gguf")
        let report = try JSONValue.parse(Array(try CLI.succeed(["inspect", path, "--json"]).output.utf8))
        let tokenizer = try #require(report["tokenizer"])
        #expect(tokenizer["model"]?.stringValue == "llama")
        #expect(tokenizer["vocab_size"]?.intValue == 128)
        let gguf = try GGUFFile(path: path)
        guard case .array(_, let types)? = gguf.value("tokenizer.ggml.token_type") else {
            Issue.record("no token types")
            return
        }
        let control = types.enumerated().filter { $0.element.intValue == 3 }.map(\.offset)
        #expect(Self.ids(.array((tokenizer["special_tokens"]?.arrayValue ?? []).map { $0["id"]! })) == control)
        #expect(Self.ids(tokenizer["added_before"]) == [1])
        let text = try CLI.succeed(["inspect", Fixtures.path("models/qwen2")]).output
        #expect(text.contains("tokenizer: BPE, pre-tokenizer Metaspace, 128 tokens, adds 1 before text"))
    }

    @Test func promptErrorsAreOneLine() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let bare = Paths.join(directory, "bare")
        mkdir(bare, 0o755)
        try SyntheticModels.writeLlama(to: bare)
        let noTokenizer = CLI.run(["forward", bare, "--prompt", "hello"])
        #expect(noTokenizer.status == 2 && noTokenizer.errorOutput.contains("has no tokenizer") && noTokenizer.errorOutput.contains("--tokens"))

        let binary = Paths.join(directory, "prompt.txt")
        try SyntheticModels.writeFile(binary, Array("abc".utf8) + [0xFF, 0x41])
        let notText = CLI.run(["forward", Fixtures.path("models/llama"), "--prompt-file", binary])
        #expect(notText.status == 2 && notText.errorOutput.contains("prompt.txt: not UTF-8 text (byte 3)"))

        #expect(CLI.run(["forward", Fixtures.path("models/llama"), "--prompt", "a", "--tokens", "1"]).status == 2)
        #expect(CLI.run(["forward", Fixtures.path("models/llama")]).status == 2)
        #expect(CLI.run(["forward", Fixtures.path("models/llama"), "--tokens", "1", "--no-special-tokens"]).status == 2)
        let badPre = CLI.run(["convert", Fixtures.path("models/llama"), Paths.join(directory, "x.gguf"), "--tokenizer-pre", "no-such"])
        #expect(badPre.status == 2 && badPre.errorOutput.contains("llama-bpe") && !Paths.exists(Paths.join(directory, "x.gguf")))
    }

    /// `imatrix --text` on the text llama-imatrix read: the same entries,
    /// counts and sums (to the bounds of ImportanceMatrixCollectionTests), so
    /// the text became the same tokens.
    @Test(arguments: [("presets-llama", Float(3e-3)), ("qwen3_moe-f32", 1e-5)])
    func imatrixMatchesLlamaImatrix(model: String, tolerance: Float) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let output = Paths.join(directory, "imatrix.gguf")
        let text = Fixtures.path("reference/imatrix/text.txt")
        let outcome = try CLI.succeed(["imatrix", Fixtures.path("gguf/\(model).gguf"), "--text", text, "-c", "64", "--chunks", "4",
                                       "-o", output, "--json", "--quiet"])
        let summary = try JSONValue.parse(Array(outcome.output.utf8))
        let reference = try Fixtures.json("reference/imatrix/\(model).tokens.json")
        #expect(summary["tokens"]?.intValue == Int64(reference["ids"]?.arrayValue?.count ?? -1))
        let ours = try ImportanceMatrix(contentsOf: output)
        let theirs = try ImportanceMatrix(contentsOf: Fixtures.path("reference/imatrix/\(model).imatrix.gguf"))
        #expect(ours.datasets == [text] && ours.chunkCount == 4 && ours.chunkSize == 64)
        #expect(Set(ours.entries.keys) == Set(theirs.entries.keys))
        var worst: Float = 0
        for (name, expected) in theirs.entries {
            let entry = try #require(ours.entries[name])
            #expect(entry.counts == expected.counts, "\(name) counts")
            for (a, b) in Fixtures.pairs(entry.sums, expected.sums) { worst = max(worst, abs(a - b) / max(abs(b), 1e-6)) }
        }
        #expect(worst <= tolerance)

        let short = CLI.run(["imatrix", Fixtures.path("gguf/\(model).gguf"), "--text", text, "-c", "512", "-o", Paths.join(directory, "short.gguf")])
        #expect(short.status == 2 && !Paths.exists(Paths.join(directory, "short.gguf")), "\(short.errorOutput)")
        let binary = Paths.join(directory, "binary.txt")
        try SyntheticModels.writeFile(binary, [0x41, 0xC3, 0x28])
        let notText = CLI.run(["imatrix", Fixtures.path("gguf/\(model).gguf"), "--text", binary, "-o", Paths.join(directory, "bad.gguf")])
        #expect(notText.status == 2 && notText.errorOutput.contains("binary.txt: not UTF-8 text (byte 1)") && !Paths.exists(Paths.join(directory, "bad.gguf")))
        let existing = CLI.run(["imatrix", Fixtures.path("gguf/\(model).gguf"), "--text", text, "-c", "64", "-o", output])
        #expect(existing.status == 2 && existing.errorOutput.contains("--force"))
        let intoInput = CLI.run(["imatrix", Fixtures.path("gguf/\(model).gguf"), "--text", text, "-c", "64", "-o", Fixtures.path("gguf/\(model).gguf"), "--force"])
        #expect(intoInput.status == 2 && intoInput.errorOutput.contains("input"))
    }
}
