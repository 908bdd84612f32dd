import GateSurgeon
@testable import GateSurgeonCommands
import JSON
import Platform
import Testing

/// Every option means what it says: combinations that would be ignored are
/// errors, help lists what each option takes, messages are deterministic,
/// and machines get one JSON document.
@Suite struct CommandLineTests {
    static let qwen2 = Fixtures.path("models/qwen2")

    /// Options that would silently do nothing, or less than asked.
    @Test(arguments: [
        (["out.gguf", "--embedding-type", "q8_0"], "--embedding-type applies to quantizing; give --quant too"),
        (["out.gguf", "--output-type", "q6_k"], "--output-type applies to quantizing; give --quant too"),
        (["out.gguf", "--dtype", "bf16", "--quant", "q8_0"], "--quant decides every tensor's type"),
        (["out.gguf", "--max-shard-size", "5GB", "--split-max-tensors", "4"], "each set where the output is split; give one"),
        (["out/", "--split-max-tensors", "4"], "--split-max-tensors splits a GGUF file into parts"),
        (["out.safetensors", "--split-max-size", "4G"], "--split-max-size splits a GGUF file into parts"),
        (["out.gguf", "--split-max-size", "1.5G"], "a positive whole number followed by M or G"),
        (["out.gguf", "--split-max-size", "500MB"], "a whole number followed by M or G"),
        (["out.gguf", "--split-max-size", "0M"], "a positive whole number"),
        (["out.gguf", "--split-max-tensors", "0"], "--split-max-tensors must be at least 1"),
        (["out.gguf", "--dry-run", "--verify"], "--dry-run writes none; give one of them"),
        (["out.safetensors", "--max-shard-size", "5GB"], "--max-shard-size splits a model directory"),
        (["out/", "--max-shard-size", "5"], "needs a unit"),
        (["out/", "--max-shard-size", "infGB"], "not a size"),
        (["out/", "--max-shard-size", "1e300gb"], "not a size"),
        (["out/", "--max-shard-size", "infb"], "not a size"),
        (["out.safetensors", "--quant", "q4_0"], "give an output path ending in .gguf"),
        (["out.safetensors", "--tokenizer-from", "x.gguf"], "--tokenizer-from applies to GGUF output"),
        (["out.gguf", "--max-kld", "0.1"], "add --verify"),
        (["out.gguf", "--dtype", "q4_0"], "'q4_0' is invalid for '--dtype"),
        (["out.gguf", "--quant", "bf16"], "use --dtype bf16"),
        (["out.gguf", "--quant", "q9_9"], "choose one of Q4_0, Q4_1, Q5_0"),
        (["out.gguf", "--pure"], "--pure applies to quantizing; give --quant too"),
        (["out.gguf", "--imatrix", "x.gguf"], "--imatrix applies to quantizing"),
        (["out.gguf", "--quant", "q4_k_m", "--tensor-type", "attn_v"], "not PATTERN=TYPE"),
        (["out.gguf", "--quant", "q4_k_m", "--leave-output-tensor", "--output-type", "q8_0"], "contradict each other"),
    ])
    func contradictoryOrEmptyOptionsAreErrors(arguments: [String], message: String) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let outcome = CLI.run(["convert", Self.qwen2, Paths.join(directory, arguments[0])] + arguments.dropFirst())
        #expect(outcome.status == 2)
        #expect(outcome.errorOutput.hasPrefix("error: "), "\(outcome.errorOutput)")
        #expect(outcome.errorOutput.contains(message), "\(outcome.errorOutput)")
        #expect(outcome.output.isEmpty, "nothing is planned or printed")
        #expect(Paths.entries(of: directory).isEmpty)
    }

    /// A name read from a file is printed escaped: a newline cannot split
    /// the error line and a terminal escape reaches the terminal as text.
    @Test func namesInErrorsAreEscaped() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let header = Array(#"{"a\n\u001b[2Jb":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#.utf8)
        let path = Paths.join(directory, "named.safetensors")
        let output = ByteArrayOutput()
        try output.write(UInt64(header.count), endianness: .little)
        try output.write(header)
        try output.write([UInt8](repeating: 0, count: 4))
        try SyntheticModels.writeFile(path, output.bytes)
        let outcome = CLI.run(["inspect", path])
        #expect(outcome.status == 2)
        let message = outcome.errorOutput
        #expect(message.hasPrefix("error: \(path): ") && message.hasSuffix("\n") && !message.dropLast().contains("\n"), "\(message)")
        #expect(!message.contains("\u{1B}"), "no raw escape: \(message)")
        #expect(message.contains(#"a\n"#), "\(message)")
    }

    /// A layer range is bounded before it is expanded: `0-9223372036854775806`
    /// once built a set of that many layers (hours, gigabytes).
    @Test(arguments: ["0-9223372036854775806", "9223372036854775807", "0-1048577"])
    func hugeLayerRangesAreRefusedBeforeExpansion(list: String) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let outcome = CLI.run(["add-gate", Self.qwen2, Paths.join(directory, "gated/"), "--layers", list])
        #expect(outcome.status == 2)
        #expect(outcome.errorOutput.contains("is out of range"), "\(outcome.errorOutput)")
        #expect(Paths.entries(of: directory).isEmpty)
    }

    @Test func keepPatternsThatMatchNothingAreReported() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let outcome = try CLI.succeed(["convert", Self.qwen2, Paths.join(directory, "out.gguf"), "--quant", "q8_0",
                                       "--keep", "*norm*", "--keep", "*.nothing.*"])
        #expect(outcome.errorOutput.contains("warning: --keep '*.nothing.*' matches no tensor"))
        #expect(!outcome.errorOutput.contains("'*norm*'"))
    }

    /// `--json` carries every warning standard error shows: each command's
    /// document has them, in the order printed.
    @Test func jsonDocumentsCarryTheWarnings() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let stale = Paths.join(directory, ".out.gguf.gatesurgeon-partial-2147483646-1")
        try Paths.writeText("partial", to: stale)
        let convert = try CLI.succeed(["convert", Self.qwen2, Paths.join(directory, "out.gguf"), "--quant", "q8_0", "--keep", "*.nothing.*", "--json"])
        let printed = convert.errorOutput.split(separator: "\n").filter { $0.hasPrefix("warning: ") }.map { String($0.dropFirst("warning: ".count)) }
        #expect(printed.count == 2 && printed[0] == "--keep '*.nothing.*' matches no tensor" && printed[1].hasSuffix(", left by an interrupted run"), "\(printed)")
        let document = try JSONValue.parse(Array(convert.output.utf8))
        #expect(document["summary"]?["warnings"] == .array(printed.map { .string($0) }))
        // forward and imatrix say so too, and verify its tokenizer warning (TokenizerCommandTests).
        try Paths.writeText("partial", to: Paths.join(directory, ".logits.safetensors.gatesurgeon-partial-2147483646-1"))
        let forward = try CLI.succeed(["forward", Self.qwen2, "--tokens", "1,2", "--out", Paths.join(directory, "logits.safetensors"), "--json"])
        let forwardWarnings = try #require(try JSONValue.parse(Array(forward.output.utf8))["warnings"]?.arrayValue)
        #expect(forwardWarnings.count == 1 && forward.errorOutput.contains("left by an interrupted run"), "\(forward.errorOutput)")
    }

    /// Help lists, per option, only what that option takes.
    @Test func helpListsEachOptionsOwnValues() throws {
        // Help wraps lines: compare with the whitespace collapsed.
        let help = try CLI.succeed(["convert", "--help"]).output.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        // ArgumentParser's own wording around the values list may change between releases.
        #expect(help.contains("--dtype <dtype> Convert float tensors to this type.") && help.contains("f32, f16, bf16)"))
        #expect(help.contains("--quant <preset> Quantize (GGUF output) as llama-quantize does with this preset or type: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q2_K_S, Q3_K_S, Q3_K_M"))
        #expect(help.contains("--output-type, --output-tensor-type <type>"))
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let bad = CLI.run(["convert", Self.qwen2, Paths.join(directory, "x.gguf"), "--dtype", "f8"])
        #expect(bad.errorOutput.contains("f32") && bad.errorOutput.contains("bf16") && !bad.errorOutput.contains("q4_k"), "\(bad.errorOutput)")
        for command in ["inspect", "add-gate", "convert", "forward", "verify"] {
            let text = try CLI.succeed([command, "--help"]).output
            #expect(text.contains("Examples:"), "\(command) --help has examples")
        }
    }

    /// Exit statuses: 0 ok, 1 a threshold failed, 2 bad input or usage.
    @Test func exitStatusesFollowOnePolicy() throws {
        #expect(CLI.run(["inspect"]).status == 2, "missing argument")
        #expect(CLI.run(["convert", Self.qwen2]).status == 2)
        #expect(CLI.run(["frobnicate"]).status == 2)
        #expect(CLI.run(["inspect", "/nonexistent/model.gguf"]).status == 2)
        #expect(CLI.run(["--version"]).status == 0)
        let failing = CLI.run(["verify", Fixtures.path("models/qwen3"), Fixtures.path("gguf/qwen3-bf16.gguf"), "--max-abs", "1e-6"])
        #expect(failing.status == 1)
        for outcome in [CLI.run(["inspect"]), CLI.run(["inspect", "/nonexistent.gguf"])] {
            #expect(outcome.errorOutput.hasPrefix("error: "), "\(outcome.errorOutput)")
        }
    }

    /// A usage error is one line that names the subcommand and where its
    /// options are explained; a command line that names no command (nothing,
    /// a typo, `help` of a command that does not exist) is one too, not the
    /// overview with exit status 0.
    @Test(arguments: [
        (["inspect"], "error: gatesurgeon inspect: missing expected argument '<path>'; run 'gatesurgeon inspect --help' for its options"),
        (["convert", "in/"], "error: gatesurgeon convert: missing expected argument '<output>'; run 'gatesurgeon convert --help' for its options"),
        (["inspect", "a", "b"], "error: gatesurgeon inspect: unexpected argument 'b'; run 'gatesurgeon inspect --help' for its options"),
        (["add-gate", "a", "b", "--std", "1"], "error: gatesurgeon add-gate: --std only applies to --init normal; run 'gatesurgeon add-gate --help' for its options"),
        (["verify", "a", "b", "--random-tokens", "-3"], "error: gatesurgeon verify: --random-tokens must be between 1 and 1048576; run"),
        ([], "error: no command given; run 'gatesurgeon --help' to see the commands"),
        (["help", "bogus"], "error: 'bogus' is not a command; run 'gatesurgeon --help' to see the commands"),
        (["frobnicate"], "error: 'frobnicate' is not a command; run 'gatesurgeon --help' to see the commands"),
    ])
    func usageErrorsAreOneLineNamingTheCommand(arguments: [String], message: String) throws {
        let outcome = CLI.run(arguments)
        #expect(outcome.status == 2)
        #expect(outcome.errorOutput.hasPrefix(message), "\(outcome.errorOutput)")
        #expect(outcome.errorOutput.hasSuffix("\n") && !outcome.errorOutput.dropLast().contains("\n"), "one line: \(outcome.errorOutput)")
        #expect(outcome.output.isEmpty, "\(outcome.output)")
    }

    /// Asking for help is not an error.
    @Test func helpOfAKnownCommandSucceeds() throws {
        #expect(try CLI.succeed(["help"]).output.contains("SUBCOMMANDS:"))
        #expect(try CLI.succeed(["help", "convert"]).output.contains("USAGE: gatesurgeon convert"))
    }

    /// The same message on every run, in a stable order.
    @Test func messagesAreDeterministic() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        for _ in 0..<5 {
            let outcome = CLI.run(["add-gate", Self.qwen2, Paths.join(directory, "out/"), "--layout", "separate", "--layers", "9,3,7,2-5"])
            #expect(outcome.errorOutput.contains("there is no layer 2: the model has layers 0-1"), "\(outcome.errorOutput)")
        }
        // Natural order: layer 2 before layer 10.
        let model = Paths.join(directory, "model")
        mkdir(model, 0o755)
        try SyntheticModels.writeLlama(to: model, layers: 11)
        let listing = try JSONValue.parse(Array(try CLI.succeed(["inspect", model, "--json"]).output.utf8))
        let names = try #require(listing["tensors"]?.arrayValue).compactMap { $0["name"]?.stringValue }
        let second = try #require(names.firstIndex(of: "model.layers.2.input_layernorm.weight"))
        let tenth = try #require(names.firstIndex(of: "model.layers.10.input_layernorm.weight"))
        #expect(second < tenth)
        // A uint64 above Int64.max prints exactly, in text and JSON.
        let allTypes = Fixtures.path("gguf/gguf-py-all-types.gguf")
        let text = try CLI.succeed(["inspect", allTypes]).output
        #expect(text.contains("9223372036854775813"))
        let json = try JSONValue.parse(Array(try CLI.succeed(["inspect", allTypes, "--json"]).output.utf8))
        #expect(json["metadata"]?["test.uint64"] == .uint(9_223_372_036_854_775_813))
        // The plan names the layers a class covers.
        let plan = try CLI.succeed(["add-gate", Self.qwen2, Paths.join(directory, "gated.gguf"), "--layers", "1"]).output
        #expect(plan.contains("self_attn.gate_proj.weight (layer 1)"), "\(plan)")
        #expect(plan.contains("self_attn.q_proj.weight x2 (layers 0-1)"), "\(plan)")
    }

    /// `--json` on add-gate and convert: one document with the plan, the
    /// summary and the verification.
    @Test(arguments: [
        ["convert", "out.gguf", "--quant", "q8_0", "--verify"],
        ["add-gate", "out/", "--verify"],
    ])
    func writesReportOneJSONDocument(arguments: [String]) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let outcome = try CLI.succeed([arguments[0], Fixtures.path("models/qwen3"), Paths.join(directory, arguments[1]), "--json"] + arguments.dropFirst(2))
        let document = try JSONValue.parse(Array(outcome.output.utf8))
        #expect(document["command"] == .string(arguments[0]))
        #expect(document["architecture"] == .string("qwen3"))
        let plan = try #require(document["plan"]?.arrayValue)
        #expect(plan.count > 10 && plan.allSatisfy { $0["name"] != nil && $0["to"] != nil && $0["shape"] != nil })
        #expect(document["summary"]?["tensors"]?.intValue == Int64(plan.count))
        #expect(document["verification"]?["passed"] == .bool(true))
        if arguments[0] == "add-gate" {
            #expect(document["gate"]?["layout"] == .string("gated-attention"))
            #expect(document["gate"]?["layers"] == .array([.int(0), .int(1)]))
        }
    }

    /// In a log (not a terminal) progress is one line per tensor on
    /// standard error; --quiet silences it.
    @Test func progressIsPlainLinesInLogs() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let outcome = try CLI.succeed(["convert", Self.qwen2, Paths.join(directory, "a.gguf"), "--quant", "q8_0"])
        let lines = outcome.errorOutput.split(separator: "\n")
        let tensorCount = try GGUFFile(path: Paths.join(directory, "a.gguf")).tensors.count
        #expect(lines.filter { $0.hasPrefix("write [") }.count == tensorCount)
        #expect(lines.last?.hasPrefix("write: done in ") == true)
        #expect(!outcome.errorOutput.contains("\r") && !outcome.errorOutput.contains("\u{1B}"))
        let quiet = try CLI.succeed(["convert", Self.qwen2, Paths.join(directory, "b.gguf"), "--quiet"])
        #expect(quiet.errorOutput.isEmpty)
        // The plan comes before the work: on standard output, before the summary.
        let plan = try #require(outcome.output.firstRange(of: "model.embed_tokens.weight"))
        let summary = try #require(outcome.output.firstRange(of: "wrote "))
        #expect(plan.lowerBound < summary.lowerBound)
    }

    /// `--quiet` silences what its help says, progress and the plan, and
    /// nothing else: the summary still prints.
    @Test func quietLeavesOnlyTheSummary() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let loud = try CLI.succeed(["add-gate", Self.qwen2, Paths.join(directory, "loud/")])
        #expect(loud.output.contains("add-gate: qwen2") && loud.output.contains("self_attn.q_proj.weight"), "\(loud.output)")
        let quiet = try CLI.succeed(["add-gate", Self.qwen2, Paths.join(directory, "quiet/"), "--quiet"])
        #expect(quiet.errorOutput.isEmpty, "\(quiet.errorOutput)")
        #expect(quiet.output.hasPrefix("wrote "), "\(quiet.output)")
        #expect(!quiet.output.contains("add-gate:") && !quiet.output.contains("q_proj"), "\(quiet.output)")
        let help = try CLI.succeed(["add-gate", "--help"]).output.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(help.contains("--quiet Print no progress and no plan of what a write will do"), "\(help)")
    }

    /// On a terminal, progress is one line redrawn in place, never wider than
    /// the terminal (wider lines wrap and leave a stale line per redraw): the
    /// tensor name gives way first, with `…`.
    @Test func progressFitsTheTerminal() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let outcome = CLI.run(["convert", Self.qwen2, Paths.join(directory, "a.gguf"), "--quant", "q8_0"], terminalColumns: 40)
        #expect(outcome.status == 0, "\(outcome.errorOutput)")
        #expect(!outcome.errorOutput.contains("\n") && outcome.errorOutput.hasSuffix("\r\u{1B}[2K"), "one line, cleared at the end")
        let drawn = outcome.errorOutput.split(separator: "\r").map { $0.replacing("\u{1B}[2K", with: "") }.filter { !$0.isEmpty }
        #expect(!drawn.isEmpty && drawn.allSatisfy { $0.count <= 39 }, "\(drawn)")
        #expect(drawn[0].hasPrefix("write [ 1/26] 0%  ") && drawn[0].contains("…"), "\(drawn)")
    }

    /// A resize redraws the status line at the new width, through SIGWINCH
    /// as on a real terminal.
    @Test func progressIsRedrawnWhenTheTerminalIsResized() throws {
        let console = Console.capture(terminalColumns: 100)
        let progress = ProgressReporter(console: console, label: "write", total: 100, steps: 3, measure: .bytes, quiet: false)
        progress.begin(step: 0, done: 0, item: "model.layers.0.self_attn.q_proj.weight -> Q4_K")
        #expect(console.errorOutput == "\r\u{1B}[2Kwrite [1/3] 0%  model.layers.0.self_attn.q_proj.weight -> Q4_K")
        console.simulateResize(to: 30)
        #expect(console.errorOutput.hasSuffix("\r\u{1B}[2Kwrite [1/3] 0%  model.…> Q4_K"), "\(console.errorOutput)")
        // The signal, sent to the process as a terminal sends it: libdispatch's handler,
        // then the redraw on a queue. The source registers asynchronously, so the
        // signal is sent until it is seen.
        let before = console.errorOutput.count
        let deadline = Executable.now() + 30
        while console.errorOutput.count == before && Executable.now() < deadline {
            kill(getpid(), SIGWINCH)
            usleep(20_000)
        }
        #expect(console.errorOutput.count > before, "no redraw after SIGWINCH")
        progress.finish()
        #expect(console.errorOutput.hasSuffix("\r\u{1B}[2K"))
    }

    /// A dtype cast needs no architecture: an architecture gatesurgeon
    /// does not model converts tensor by tensor, names and metadata kept.
    @Test func castsWorkForAnyArchitecture() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let model = Paths.join(directory, "stablelm")
        mkdir(model, 0o755)
        try Paths.writeText(#"{"model_type": "stablelm", "architectures": ["StableLmForCausalLM"], "torch_dtype": "float32", "hidden_size": 8}"#,
                            to: Paths.join(model, "config.json"))
        try SafetensorsWriter.write([
            .floats((0..<32).map { Float($0) / 3 }, name: "model.layers.0.self_attn.qkv_proj.weight", shape: [4, 8]),
            .floats([1, 2, 3, 4, 5, 6, 7, 8], name: "model.norm.weight", shape: [8]),
        ], metadata: ["format": "pt"], to: Paths.join(model, "model.safetensors"))
        let out = Paths.join(directory, "out/")
        try CLI.succeed(["convert", model, out, "--dtype", "bf16"])
        let written = try Checkpoint(path: out)
        #expect(written.tensors.map(\.name).sorted() == ["model.layers.0.self_attn.qkv_proj.weight", "model.norm.weight"])
        #expect(written.tensors.allSatisfy { $0.dtype == .bf16 })
        let config = try JSONValue.parse(try Paths.readFile(Paths.join(out, "config.json")))
        #expect(config["torch_dtype"] == .string("bfloat16") && config["model_type"] == .string("stablelm"))
        // Steps that need the architecture say so.
        let gguf = CLI.run(["convert", model, Paths.join(directory, "x.gguf")])
        #expect(gguf.status == 2 && gguf.errorOutput.contains("architecture 'stablelm'"))
        let verify = CLI.run(["convert", model, Paths.join(directory, "y/"), "--verify"])
        #expect(verify.status == 2 && verify.errorOutput.contains("--verify runs the model"))
        // GGUF to GGUF: gguf-py's test file has architecture "alltypes".
        let cast = Paths.join(directory, "alltypes.gguf")
        try CLI.succeed(["convert", Fixtures.path("gguf/gguf-py-all-types.gguf"), cast, "--dtype", "f16"])
        let source = try GGUFFile(path: Fixtures.path("gguf/gguf-py-all-types.gguf"))
        let result = try GGUFFile(path: cast)
        // in llama.cpp's loader order, as llama-quantize writes them (no layers here: by name)
        #expect(result.tensors.map(\.name) == source.tensors.map(\.name).sorted())
        #expect(result.tensors.first { $0.name == "t.f16_3d" }?.dtype == .f16)
        #expect(result.value("test.string_utf8") == source.value("test.string_utf8"))
    }
}

/// `convert --quant` with llama-quantize's presets, importance matrices and
/// overrides, end to end through the command (the rules and kernels are
/// checked type by type and byte by byte in the Quantization suites).
@Suite struct PresetCommandTests {
    /// The 2-layer model with rows of 256 the preset references use.
    static let model = Fixtures.path("gguf/presets-llama.gguf")

    /// An explicit type whose blocks do not fit a tensor's rows gets the
    /// type a preset's choice falls back to (llama-quantize aborts in
    /// ggml_row_size instead: explicit output and embedding types get no
    /// fallback there), and a warning says so, in the JSON document too.
    /// The README's example runs on the bundled models.
    @Test func explicitTypesThatDoNotFitFallBack() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let output = Paths.join(directory, "out.gguf")
        let outcome = try CLI.succeed(["convert", Fixtures.path("models/llama"), output, "--quant", "q4_k", "--embedding-type", "q8_0", "--output-type", "q6_k"])
        let file = try GGUFFile(path: output)
        #expect(file.tensors.first { $0.name == "output.weight" }?.dtype == .q8_0)
        #expect(file.tensors.first { $0.name == "token_embd.weight" }?.dtype == .q8_0)
        #expect(outcome.output.contains("lm_head.weight") && outcome.output.contains("F32 -> Q8_0  [rows of 32 are not a multiple of Q6_K's block of 256"), "\(outcome.output)")
        let warning = "--output-type q6_k: output.weight has rows of 32, not whole Q6_K blocks of 256; it is written as Q8_0, the type llama.cpp falls back to (llama-quantize stops here)"
        #expect(outcome.errorOutput.contains("warning: " + warning), "\(outcome.errorOutput)")
        #expect(!outcome.errorOutput.contains("--embedding-type"), "q8_0 fits: \(outcome.errorOutput)")
        // Tied embeddings (Qwen2): the embedding is the output; --embedding-type names it too.
        let tied = try CLI.succeed(["convert", Fixtures.path("models/qwen2"), Paths.join(directory, "tied.gguf"), "--quant", "q4_k",
                                    "--embedding-type", "q6_k", "--json"])
        let document = try JSONValue.parse(Array(tied.output.utf8))
        let warnings = try #require(document["summary"]?["warnings"]?.arrayValue).compactMap(\.stringValue)
        #expect(warnings == ["--embedding-type q6_k: token_embd.weight has rows of 32, not whole Q6_K blocks of 256; it is written as Q8_0, the type llama.cpp falls back to (llama-quantize stops here)"],
                "\(warnings)")
        #expect(try GGUFFile(path: Paths.join(directory, "tied.gguf")).tensors.first { $0.name == "token_embd.weight" }?.dtype == .q8_0)
    }

    /// A preset that needs an importance matrix is refused without one,
    /// before anything is written, as llama-quantize refuses it.
    @Test func lowBitPresetsNeedAnImportanceMatrix() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let outcome = CLI.run(["convert", Self.model, Paths.join(directory, "out.gguf"), "--quant", "IQ2_XS"])
        #expect(outcome.status == 2)
        #expect(outcome.errorOutput.contains("needs an importance matrix; pass --imatrix FILE"), "\(outcome.errorOutput)")
        #expect(Paths.entries(of: directory).isEmpty)
    }

    /// Q4_K_M through the command gives llama-quantize's types and file type;
    /// the plan explains the tensors that leave the preset's default type.
    @Test func q4KMMixesTypesAsLlamaQuantize() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let output = Paths.join(directory, "out.gguf")
        let outcome = try CLI.succeed(["convert", Self.model, output, "--quant", "q4_k_m"])
        // The reference: llama-quantize's type per tensor, one letter each (A = legend[0], ...).
        let reference = try Fixtures.json("reference/presets/presets-llama.json")
        let legend = try #require(reference["legend"]?.arrayValue).compactMap(\.stringValue)
        let names = try #require(reference["tensors"]?.arrayValue).compactMap { $0.arrayValue?.first?.stringValue }
        let letters = Array(try #require(reference["presets"]?["Q4_K_M"]?["plain"]?["types"]?.stringValue).unicodeScalars)
        let file = try GGUFFile(path: output)
        #expect(names.count == file.tensors.count)
        for (name, letter) in Fixtures.pairs(names, letters) {
            let type = legend[Int(letter.value - 65)]
            #expect(file.tensors.first { $0.name == name }?.dtype.name == type, "\(name)")
        }
        #expect(file.value("general.file_type") == .uint32(15))
        #expect(outcome.output.contains("Q6_K"), "the plan shows the mix")
    }

    /// With an importance matrix the file ends with the keys llama-quantize's
    /// overrides set (tools/quantize/quantize.cpp): the matrix's path as given,
    /// its first dataset, entry and chunk counts as uint32 (the generator's
    /// step compat checks the whole file against llama-quantize's).
    @Test func importanceMatrixKeysAreLlamaQuantizes() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let output = Paths.join(directory, "out.gguf")
        let matrix = Fixtures.path("reference/imatrix/presets-llama.imatrix.gguf")
        try CLI.succeed(["convert", Self.model, output, "--quant", "Q4_K_M", "--imatrix", matrix, "--quiet"])
        let keys = try GGUFFile(path: output).metadata.entries.suffix(6)
        #expect(keys.map(\.key) == ["general.quantization_version", "general.file_type", "quantize.imatrix.file",
                                    "quantize.imatrix.dataset", "quantize.imatrix.entries_count", "quantize.imatrix.chunks_count"])
        #expect(keys.map(\.value) == [.uint32(2), .uint32(15), .string(matrix), .string("text.txt"), .uint32(14), .uint32(4)])
    }
}
