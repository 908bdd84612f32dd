import GateSurgeon
import GateSurgeonCommands
import JSON
import Platform
import Testing

/// Every `gatesurgeon` command in README.md's examples runs, as written and
/// with its directory paths' trailing slashes toggled (`model/` as `model`,
/// an existing `model` as `model/`), on small stand-ins for the files it
/// names, each in a folder of its own holding only its inputs.
@Suite(.serialized) struct ReadmeExampleTests {
    /// The example lines: `gatesurgeon ...` inside the README's sh blocks,
    /// without the quick start (which builds with swift run).
    static let examples = FixtureArgument.list("README.md's gatesurgeon examples") {
        let text = String(decoding: try Paths.readFile(Paths.join(Fixtures.root, "README.md")), as: UTF8.self)
        var lines: [String] = []
        var inBlock = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") {
                inBlock = line == "```sh"
                continue
            }
            if inBlock && line.hasPrefix("gatesurgeon ") { lines.append(String(line)) }
        }
        return lines
    }

    /// The words of a shell line: spaces split, single and double quotes group.
    static func words(_ line: String) -> [String] {
        var words: [String] = []
        var current = ""
        var quote: Character?
        var inWord = false
        for character in line {
            if let open = quote {
                if character == open { quote = nil } else { current.append(character) }
            } else if character == "'" || character == "\"" {
                quote = character
                inWord = true
            } else if character == " " {
                if inWord { words.append(current) }
                current = ""
                inWord = false
            } else {
                current.append(character)
                inWord = true
            }
        }
        if inWord { words.append(current) }
        return words
    }

    /// The inputs every example may name, made once: a small Llama (rows of
    /// 256, so that K-quant types fit) with a
    /// Llama 3 style byte-level tokenizer as `model/` (and as GGUF, Q8_0,
    /// Q4_K and a single .safetensors file), the bundled Qwen3 as `qwen3/`
    /// and `original/` with its zero-gated copy `gated/` (and `trained/`, gates
    /// drawn at random as training would move them, with `train.txt`), a 12-layer Llama
    /// as `llama/`, a calibration text and its importance matrix; `model.gguf`
    /// also split in three parts (`model-00001-of-00003.gguf` ...).
    static let inputs: Result<String, any Error> = Result {
        let base = Fixtures.temporaryDirectory()
        func path(_ name: String) -> String { Paths.join(base, name) }
        let model = path("model")
        mkdir(model, 0o755)
        let config = try #require(try Fixtures.json("tokenizers/llama3/config.json").objectValue)
        try SyntheticModels.writeLlama(to: model, vocab: Int(try #require(config["vocab_size"]?.intValue)), hidden: 256, intermediate: 256, layers: 2,
                                       heads: 4, kvHeads: 2, extraConfig: ["bos_token_id": config["bos_token_id"]!, "eos_token_id": config["eos_token_id"]!])
        for file in ["tokenizer.json", "tokenizer_config.json"] {
            try Paths.copyFile(from: Fixtures.path("tokenizers/llama3/\(file)"), to: Paths.join(model, file))
        }
        try CLI.succeed(["convert", model, path("model.gguf"), "--tokenizer-pre", "llama-bpe", "--quiet"])
        try CLI.succeed(["convert", model, path("model.gguf"), "--tokenizer-pre", "llama-bpe", "--split-max-tensors", "8", "--quiet"])
        try CLI.succeed(["convert", model, path("model.Q8_0.gguf"), "--quant", "q8_0", "--tokenizer-pre", "llama-bpe", "--quiet"])
        try CLI.succeed(["convert", model, path("model.Q4_K.gguf"), "--quant", "q4_k", "--tokenizer-pre", "llama-bpe", "--quiet"])
        try CLI.succeed(["convert", model, path("model.safetensors"), "--quiet"])
        try Fixtures.copyDirectory(from: Fixtures.path("models/qwen3"), to: path("qwen3"))
        try Fixtures.copyDirectory(from: Fixtures.path("models/qwen3"), to: path("original"))
        try CLI.succeed(["add-gate", path("original"), path("gated") + "/", "--quiet"])
        try CLI.succeed(["add-gate", path("original"), path("trained") + "/", "--init", "normal", "--std", "0.1", "--quiet"])
        mkdir(path("llama"), 0o755)
        try SyntheticModels.writeLlama(to: path("llama"), hidden: 32, intermediate: 32, layers: 12, heads: 4, kvHeads: 2)
        // Two chunks of 512 tokens at least.
        let text = String(decoding: try Paths.readFile(Fixtures.path("reference/imatrix/text.txt")), as: UTF8.self)
        try Paths.writeText(Array(repeating: text, count: 4).joined(separator: "\n"), to: path("calibration.txt"))
        try Paths.writeText(text, to: path("train.txt"))
        try CLI.succeed(["imatrix", model, "--text", path("calibration.txt"), "--out", path("imatrix.gguf"), "--quiet"])
        return base
    }

    /// The names of the example's arguments it reads: the first positional
    /// (two for verify) and the files of --imatrix, --text and --tokenizer-from.
    static func inputNames(_ words: [String]) -> [String] {
        let takesValue: Set<String> = ["--filter", "--layout", "--dtype", "--layers", "--granularity", "--init", "--std", "--seed", "--quant",
                                       "--embedding-type", "--output-type", "--max-shard-size", "--split-max-size", "--split-max-tensors", "--prompt", "--tokens", "--out", "--report",
                                       "--max-abs", "--random-tokens", "--min-top1", "--max-kld", "--text", "--imatrix", "--tokenizer-from", "--prompt-file"]
        var positionals: [String] = []
        var inputs: [String] = []
        var index = 2
        while index < words.count {
            let word = words[index]
            if takesValue.contains(word), index + 1 < words.count {
                if ["--imatrix", "--text", "--tokenizer-from", "--prompt-file"].contains(word) { inputs.append(words[index + 1]) }
                index += 2
                continue
            }
            if !word.hasPrefix("-") { positionals.append(word) }
            index += 1
        }
        return inputs + positionals.prefix(words[1] == "verify" ? 2 : 1)
    }

    /// `name` without a trailing slash, or with one when it names a directory.
    static func toggledSlash(_ word: String, directories: Set<String>) -> String {
        if word.hasSuffix("/") { return String(word.dropLast()) }
        return directories.contains(word) ? word + "/" : word
    }

    @Test(arguments: examples, [false, true])
    func exampleRuns(_ argument: FixtureArgument<String>, toggleSlashes: Bool) throws {
        let line = try argument.value()
        let base = try Self.inputs.get()
        let words = Self.words(line)
        let folder = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(folder) }
        var directories: Set<String> = []
        for name in Self.inputNames(words) {
            let entry = name.hasSuffix("/") ? String(name.dropLast()) : name
            let source = Paths.join(base, entry)
            try #require(Paths.exists(source), "the README example reads \(name), which the test does not provide")
            symlink(source, Paths.join(folder, entry))
            if Paths.isDirectory(source) { directories.insert(entry) }
            // A part of a split GGUF is read with the other parts beside it.
            if let part = GGUFSplit.PartName(path: entry) {
                for number in 1...part.count where number != part.number {
                    let sibling = part.sibling(number).path
                    symlink(Paths.join(base, sibling), Paths.join(folder, sibling))
                }
            }
        }
        // Paths are the words with a file extension or a slash, and the inputs.
        let arguments = words.dropFirst().enumerated().map { offset, word -> String in
            let previous = offset > 0 ? words[offset] : ""
            guard !word.hasPrefix("-"), !["--prompt", "--filter", "--tokens", "--layers"].contains(previous) else { return word }
            let isPath = word.contains("/") || word.contains(".") || directories.contains(word)
            guard isPath, Double(word) == nil else { return word }
            return Paths.join(folder, toggleSlashes ? Self.toggledSlash(word, directories: directories) : word)
        }
        let outcome = CLI.run(Array(arguments) + ["--quiet"])
        // A verification with thresholds may fail on a random tiny model: exit 1 with its report.
        let reportedFailure = outcome.output.contains("result: fail") || outcome.output.contains("\"passed\": false")
        let verified = words[1] == "verify" && outcome.status == ExitStatus.verificationFailed && reportedFailure
        #expect(outcome.status == 0 || verified, "\(line) -> \(arguments.joined(separator: " ")): \(outcome.errorOutput)")
    }
}
