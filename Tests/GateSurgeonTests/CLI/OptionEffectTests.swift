import GateSurgeon
import JSON
import Platform
import Testing

/// Options whose effect no other test shows: each run with and without the
/// option, and the difference it makes to what is written or reported.
@Suite struct OptionEffectTests {
    static func values(_ path: String, _ tensor: String) throws -> [Float] {
        let stored = try #require(try Checkpoint(path: path).tensors.first { $0.name == tensor }, "no \(tensor) in \(path)")
        return try TensorExpression.stored(stored).allValues()
    }

    static func type(_ path: String, _ tensor: String) throws -> DType? {
        try GGUFFile(path: path).tensors.first { $0.name == tensor }?.dtype
    }

    /// `--init normal` doubles o_proj (as zero gates need) unless
    /// `--no-compensate`, which leaves it as stored.
    @Test func noCompensateLeavesOProjAsStored() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let name = "model.layers.1.self_attn.o_proj.weight"
        let stored = try Self.values(Fixtures.path("models/qwen3"), name)
        for (folder, options, factor) in [("doubled", [String](), Float(2)), ("kept", ["--no-compensate"], 1)] {
            let out = Paths.join(directory, folder)
            try CLI.succeed(["add-gate", Fixtures.path("models/qwen3"), out + "/", "--init", "normal", "--std", "0.02", "--seed", "7", "--quiet"] + options)
            #expect(try Self.values(out, name) == stored.map { $0 * factor }, "\(folder)")
        }
    }

    /// Re-quantizing a quantized tensor is refused (as llama-quantize refuses
    /// it) unless `--allow-requantize`.
    @Test func allowRequantizeRequantizes() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let output = Paths.join(directory, "out.gguf")
        let arguments = ["convert", Fixtures.path("gguf/llama-q8_0.gguf"), output, "--quant", "q4_0", "--pure"]
        let refused = CLI.run(arguments)
        #expect(refused.status == 2 && refused.errorOutput.contains("pass --allow-requantize"), "\(refused.errorOutput)")
        #expect(!Paths.exists(output))
        try CLI.succeed(arguments + ["--allow-requantize", "--quiet"])
        #expect(try Self.type(Fixtures.path("gguf/llama-q8_0.gguf"), "blk.0.attn_q.weight") == .q8_0)
        #expect(try Self.type(output, "blk.0.attn_q.weight") == .q4_0)
    }

    /// A single .safetensors file without a config in its metadata or beside
    /// it: refused, naming --config, by every command that reads a model;
    /// with `--config` (`--config-a`, `--config-b` for verify) it runs as the
    /// model directory does.
    @Test func configNamesTheConfigOfASingleFile() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let file = Paths.join(directory, "weights.safetensors")
        try Paths.copyFile(from: Fixtures.path("models/qwen3/model.safetensors"), to: file)
        for name in ["tokenizer.json", "tokenizer_config.json"] {
            try Paths.copyFile(from: Fixtures.path("models/qwen3/\(name)"), to: Paths.join(directory, name))
        }
        let config = Paths.join(directory, "qwen3-config.json")
        try Paths.copyFile(from: Fixtures.path("models/qwen3/config.json"), to: config)
        let text = Fixtures.path("reference/imatrix/text.txt")
        let commands: [[String]] = [
            ["add-gate", file, Paths.join(directory, "gated/")],
            ["convert", file, Paths.join(directory, "out.gguf")],
            ["imatrix", file, "--text", text, "-c", "32", "--chunks", "2", "-o", Paths.join(directory, "imatrix.gguf")],
            ["forward", file, "--tokens", "1,2,3"],
        ]
        for command in commands {
            let refused = CLI.run(command)
            #expect(refused.status == 2 && refused.errorOutput.contains("--config PATH"), "\(command[0]): \(refused.errorOutput)")
            try CLI.succeed(command + ["--config", config, "--quiet"])
        }
        #expect(try JSONValue.parse(try Paths.readFile(Paths.join(directory, "gated/config.json")))["model_type"] == .string("qwen3"))
        #expect(try GGUFFile(path: Paths.join(directory, "out.gguf")).value("general.architecture") == .string("qwen3"))
        #expect(try ImportanceMatrix(contentsOf: Paths.join(directory, "imatrix.gguf")).chunkCount == 2)

        let model = Fixtures.path("models/qwen3")
        for (arguments, flag) in [(["verify", file, model], "--config-a"), (["verify", model, file], "--config-b")] {
            let refused = CLI.run(arguments + ["--tokens", "1,2,3"])
            #expect(refused.status == 2 && refused.errorOutput.contains("no config found"), "\(flag): \(refused.errorOutput)")
            let report = try JSONValue.parse(Array(try CLI.succeed(arguments + ["--tokens", "1,2,3", flag, config, "--json"]).output.utf8))
            #expect(report["max_abs_diff"] == .double(0), "\(flag): the same weights")
        }
    }

    /// `--token-embedding-type` and `--output-tensor-type` are llama-quantize's
    /// names of `--embedding-type` and `--output-type`: the same types, the
    /// same bytes.
    @Test func llamaQuantizeNamesOfTheTypeOptionsWork() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let model = Fixtures.path("gguf/presets-llama.gguf")
        let long = Paths.join(directory, "long.gguf"), short = Paths.join(directory, "short.gguf"), plain = Paths.join(directory, "plain.gguf")
        try CLI.succeed(["convert", model, long, "--quant", "q4_0", "--pure", "--token-embedding-type", "q8_0", "--output-tensor-type", "q4_k", "--quiet"])
        try CLI.succeed(["convert", model, short, "--quant", "q4_0", "--pure", "--embedding-type", "q8_0", "--output-type", "q4_k", "--quiet"])
        try CLI.succeed(["convert", model, plain, "--quant", "q4_0", "--pure", "--quiet"])
        #expect(try Self.type(long, "token_embd.weight") == .q8_0 && Self.type(long, "output.weight") == .q4_K)
        #expect(try Self.type(plain, "token_embd.weight") != .q8_0 && Self.type(plain, "output.weight") != .q4_K, "the options change the types")
        #expect(try Paths.readFile(long) == Paths.readFile(short))
    }

    /// `--init normal` draws the gate from N(0, --std) with --seed: the same
    /// seed the same values, another seed others, twice the deviation twice
    /// the values.
    @Test func normalInitFollowsSeedAndDeviation() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        func gate(_ folder: String, std: String, seed: String) throws -> [Float] {
            let out = Paths.join(directory, folder)
            try CLI.succeed(["add-gate", Fixtures.path("models/qwen3"), out + "/", "--layout", "separate", "--init", "normal",
                             "--std", std, "--seed", seed, "--quiet"])
            return try Self.values(out, "model.layers.0.self_attn.gate_proj.weight")
        }
        let first = try gate("a", std: "0.02", seed: "7")
        #expect(first.contains { $0 != 0 })
        #expect(try gate("b", std: "0.02", seed: "7") == first)
        #expect(try gate("c", std: "0.02", seed: "8") != first)
        #expect(try gate("d", std: "0.04", seed: "7") == first.map { $0 * 2 })
    }

    /// `--tensor-type PATTERN=TYPE` types the tensors the regex finds;
    /// `--leave-output-tensor` leaves output.weight as stored.
    @Test func tensorTypeAndLeaveOutputTensorChangeTheTypes() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let model = Fixtures.path("gguf/presets-llama.gguf")
        let plain = Paths.join(directory, "plain.gguf"), tuned = Paths.join(directory, "tuned.gguf")
        try CLI.succeed(["convert", model, plain, "--quant", "q4_0", "--pure", "--quiet"])
        try CLI.succeed(["convert", model, tuned, "--quant", "q4_0", "--pure", "--tensor-type", "attn_v=q8_0", "--leave-output-tensor", "--quiet"])
        #expect(try Self.type(plain, "blk.0.attn_v.weight") == .q4_0 && Self.type(tuned, "blk.0.attn_v.weight") == .q8_0)
        #expect(try Self.type(tuned, "blk.0.attn_k.weight") == .q4_0)
        #expect(try Self.type(plain, "output.weight") == .q4_0 && Self.type(tuned, "output.weight") == Self.type(model, "output.weight"))
    }

    /// `--prompt-file` runs the file's text as `--prompt` runs it; `--max-nmse`
    /// fails a verification whose NMSE is above it.
    @Test func promptFileAndMaxNMSE() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let file = Paths.join(directory, "prompt.txt")
        try Paths.writeText("the tensor files of the block", to: file)
        let fromFile = try JSONValue.parse(Array(try CLI.succeed(["forward", Fixtures.path("models/llama"), "--prompt-file", file, "--json"]).output.utf8))
        let fromText = try JSONValue.parse(Array(try CLI.succeed(["forward", Fixtures.path("models/llama"), "--prompt", "the tensor files of the block", "--json"]).output.utf8))
        #expect(fromFile["tokens"] == fromText["tokens"] && fromFile["tokens"]?.arrayValue?.count == 7)
        let unrelated = ["verify", Fixtures.path("models/qwen3"), Fixtures.path("models/llama"), "--tokens", "1,17,42,99"]
        let failed = CLI.run(unrelated + ["--max-nmse", "1e-9"])
        #expect(failed.status == 1 && failed.output.contains("\nFAIL --max-nmse: "), "\(failed.output)")
        try CLI.succeed(unrelated + ["--max-nmse", "1e9"])
    }

    /// `--context` is the chunk size: the file records it, and each matrix
    /// saw chunks times context rows.
    @Test func contextSetsTheChunkSize() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        for context in [32, 64] {
            let output = Paths.join(directory, "\(context).gguf")
            try CLI.succeed(["imatrix", Fixtures.path("gguf/presets-llama.gguf"), "--text", Fixtures.path("reference/imatrix/text.txt"),
                             "--context", String(context), "--chunks", "3", "-o", output, "--quiet"])
            let matrix = try ImportanceMatrix(contentsOf: output)
            #expect(matrix.chunkSize == context && matrix.chunkCount == 3)
            #expect(matrix.entries["blk.0.attn_q.weight"]?.counts == [Int64(3 * context)])
        }
        // Below 16 tokens a dense model's chunks collect nothing (llama-imatrix skips such
        // multiplications): an error before any work, and no file.
        let short = Paths.join(directory, "8.gguf")
        let refused = CLI.run(["imatrix", Fixtures.path("gguf/presets-llama.gguf"), "--text", Fixtures.path("reference/imatrix/text.txt"),
                               "--context", "8", "-o", short])
        #expect(refused.status == 2 && refused.errorOutput.contains("chunks of 8 tokens collect nothing") && refused.errorOutput.contains("--context 16"),
                "\(refused.errorOutput)")
        #expect(!Paths.exists(short))
    }

    /// `--keep` leaves the tensors its glob matches, by either naming, as
    /// stored; the others get the requested type.
    @Test func keepLeavesMatchingTensorsAsStored() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let output = Paths.join(directory, "out.gguf")
        try CLI.succeed(["convert", Fixtures.path("models/qwen2"), output, "--quant", "q8_0",
                         "--keep", "*.self_attn.q_proj.weight", "--keep", "blk.1.attn_k.weight", "--quiet"])
        #expect(try Self.type(output, "blk.0.attn_q.weight") == .f32 && Self.type(output, "blk.1.attn_q.weight") == .f32)
        #expect(try Self.type(output, "blk.1.attn_k.weight") == .f32 && Self.type(output, "blk.0.attn_k.weight") == .q8_0)
        #expect(try Self.type(output, "blk.0.attn_v.weight") == .q8_0)
        let cast = Paths.join(directory, "cast/")
        try CLI.succeed(["convert", Fixtures.path("models/qwen2"), cast, "--dtype", "bf16", "--keep", "token_embd.weight", "--quiet"])
        let written = try Checkpoint(path: cast)
        #expect(written.tensors.first { $0.name == "model.embed_tokens.weight" }?.dtype == .f32)
        #expect(written.tensors.first { $0.name == "model.layers.0.self_attn.q_proj.weight" }?.dtype == .bf16)
    }
}
