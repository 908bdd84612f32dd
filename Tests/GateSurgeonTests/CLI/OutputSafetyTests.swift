import GateSurgeon
import JSON
import Platform
import Testing

/// Outputs never lose a user's files: nothing that is, contains or lies in
/// an input is written, nothing existing is replaced without --force, a
/// forced directory keeps files gatesurgeon does not write, and failures
/// leave nothing behind.
@Suite struct OutputSafetyTests {
    /// A scratch folder with a copy of a fixture model at `name`.
    static func sandbox(copying model: String = "models/llama", as name: String = "llama") throws -> String {
        let directory = Fixtures.temporaryDirectory()
        try Fixtures.copyDirectory(from: Fixtures.path(model), to: Paths.join(directory, name))
        return directory
    }

    /// Every file under `directory` with its bytes, to prove nothing changed.
    static func snapshot(_ directory: String) throws -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        for name in Paths.entries(of: directory) {
            let path = Paths.join(directory, name)
            if Paths.isDirectory(path) {
                for (inner, bytes) in try snapshot(path) { files[name + "/" + inner] = bytes }
            } else {
                files[name] = try Paths.readFile(path)
            }
        }
        return files
    }

    static func expectRefused(_ arguments: [String], _ fragment: String, in directory: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = try snapshot(directory)
        let outcome = CLI.run(arguments)
        #expect(outcome.status == 2, "\(arguments): \(outcome.errorOutput)", sourceLocation: sourceLocation)
        #expect(outcome.errorOutput.contains(fragment), "\(outcome.errorOutput)", sourceLocation: sourceLocation)
        #expect(try snapshot(directory) == before, "the folder changed", sourceLocation: sourceLocation)
    }

    /// `convert sb/llama $PWD/sb --force` once replaced the whole folder,
    /// input included.
    @Test func anOutputFolderHoldingTheInputIsRefused() throws {
        let sandbox = try Self.sandbox()
        defer { Fixtures.remove(sandbox) }
        try Paths.writeText("notes", to: Paths.join(sandbox, "notes.txt"))
        for force in [[], ["--force"]] {
            try Self.expectRefused(["convert", Paths.join(sandbox, "llama"), sandbox, "--dtype", "bf16"] + force, "would contain the input", in: sandbox)
            try Self.expectRefused(["convert", Paths.join(sandbox, "llama"), sandbox + "/", "--dtype", "bf16"] + force, "would contain the input", in: sandbox)
        }
    }

    /// `convert gp/models/q/model.safetensors gp/models --force` once deleted gp/models/q.
    @Test func aFolderAboveASingleFileInputIsRefused() throws {
        let sandbox = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(sandbox) }
        let models = Paths.join(sandbox, "models")
        mkdir(models, 0o755)
        try Fixtures.copyDirectory(from: Fixtures.path("models/llama"), to: Paths.join(models, "q"))
        try Self.expectRefused(["convert", Paths.join(models, "q/model.safetensors"), models, "--force"], "would contain the input", in: sandbox)
    }

    /// `convert sharded/ sharded/model-00001-of-00003.safetensors --force` once replaced a shard.
    @Test func anOutputInsideTheInputIsRefused() throws {
        let sandbox = try Self.sandbox(copying: "models/qwen3-sharded", as: "sharded")
        defer { Fixtures.remove(sandbox) }
        let sharded = Paths.join(sandbox, "sharded")
        try Self.expectRefused(["convert", sharded, Paths.join(sharded, "model-00001-of-00003.safetensors"), "--force"], "inside the input", in: sandbox)
        try Self.expectRefused(["convert", sharded + "/", Paths.join(sharded, "copy.gguf")], "inside the input", in: sandbox)
    }

    /// Links and `..` do not get around the check.
    @Test func linksAndDotDotNameTheInputToo() throws {
        let sandbox = try Self.sandbox()
        defer { Fixtures.remove(sandbox) }
        let model = Paths.join(sandbox, "llama")
        symlink(model, Paths.join(sandbox, "alias"))
        try Self.expectRefused(["convert", model, Paths.join(sandbox, "alias"), "--force"], "input", in: sandbox)
        try Self.expectRefused(["convert", model, Paths.join(sandbox, "alias/out.gguf")], "inside the input", in: sandbox)
        try Self.expectRefused(["convert", model, Paths.join(sandbox, "llama/../llama"), "--force"], "input", in: sandbox)
        let file = Paths.join(model, "model.safetensors")
        link(file, Paths.join(sandbox, "hard.safetensors"))
        try Self.expectRefused(["convert", file, Paths.join(sandbox, "hard.safetensors"), "--force", "--dtype", "bf16"], "is the input", in: sandbox)
    }

    /// A hard link to a file inside an input directory is that input under
    /// another name, as an output file and as a file of an output directory
    /// that would be written into.
    @Test func hardLinksToFilesInsideAnInputDirectoryAreRefused() throws {
        let sandbox = try Self.sandbox()
        defer { Fixtures.remove(sandbox) }
        let model = Paths.join(sandbox, "llama")
        #expect(link(Paths.join(model, "model.safetensors"), Paths.join(sandbox, "hard.safetensors")) == 0)
        try Self.expectRefused(["convert", model, Paths.join(sandbox, "hard.safetensors"), "--force", "--dtype", "bf16"],
                               "hard.safetensors: output is the input \(model)/model.safetensors", in: sandbox)
        let folder = Paths.join(sandbox, "out")
        mkdir(folder, 0o755)
        #expect(link(Paths.join(model, "config.json"), Paths.join(folder, "config.json")) == 0)
        try Self.expectRefused(["convert", model, folder + "/", "--force", "--dtype", "bf16"],
                               "out: output directory would contain the input \(model)/config.json", in: sandbox)
    }

    /// An existing directory is written into only with --force: files of
    /// the same names are replaced, every other file stays, and weights the
    /// new output would not replace are refused (two models in one folder).
    @Test func anExistingDirectoryIsWrittenIntoOnlyWithForce() throws {
        let sandbox = try Self.sandbox()
        defer { Fixtures.remove(sandbox) }
        let model = Paths.join(sandbox, "llama")
        let out = Paths.join(sandbox, "out")
        mkdir(out, 0o755)
        try Paths.writeText("keep me", to: Paths.join(out, "README.md"))
        try Paths.writeText("{}", to: Paths.join(out, "config.json"))
        try Self.expectRefused(["convert", model, out, "--dtype", "bf16"], "not empty (pass --force", in: sandbox)
        try CLI.succeed(["convert", model, out + "/", "--dtype", "bf16", "--force"])
        #expect(try Paths.readFile(Paths.join(out, "README.md")) == Array("keep me".utf8))
        #expect(try JSONValue.parse(try Paths.readFile(Paths.join(out, "config.json")))["model_type"] == .string("llama"))
        #expect(try Checkpoint(path: out).tensors.allSatisfy { $0.dtype == .bf16 })
        // Shards from another run would be left beside the new single file.
        try Paths.writeText("x", to: Paths.join(out, "model-00001-of-00002.safetensors"))
        try Self.expectRefused(["convert", model, out, "--force"], "weight files this output would not replace", in: sandbox)
        // An empty directory is simply filled.
        let empty = Paths.join(sandbox, "empty")
        mkdir(empty, 0o755)
        try CLI.succeed(["convert", model, empty])
        #expect(Paths.entries(of: empty).contains("model.safetensors"))
    }

    /// Every file a command writes goes through the same guard.
    @Test func forwardNeverWritesIntoItsInput() throws {
        let sandbox = try Self.sandbox()
        defer { Fixtures.remove(sandbox) }
        let model = Paths.join(sandbox, "llama")
        try Self.expectRefused(["forward", model, "--tokens", "1,2", "--out", Paths.join(model, "model.safetensors"), "--force"], "inside the input", in: sandbox)
        try Self.expectRefused(["forward", model, "--tokens", "1,2", "--report", Paths.join(model, "config.json"), "--force"], "inside the input", in: sandbox)
        // A single file's config beside it is an input too.
        let single = Paths.join(model, "model.safetensors")
        try Self.expectRefused(["forward", single, "--tokens", "1,2", "--report", Paths.join(model, "config.json"), "--force"], "input", in: sandbox)
    }

    @Test(arguments: ["gated/", "gated", "gated//"])
    func directoryOutputsWithOrWithoutATrailingSlash(output: String) throws {
        let sandbox = try Self.sandbox(copying: "models/qwen3", as: "qwen3")
        defer { Fixtures.remove(sandbox) }
        let input = Paths.join(sandbox, "qwen3") + "/"
        try CLI.succeed(["add-gate", input, Paths.join(sandbox, output)])
        #expect(Paths.exists(Paths.join(sandbox, "gated/config.json")))
        try CLI.succeed(["add-gate", input, Paths.join(sandbox, output), "--force", "--layout", "separate"])
        #expect(Paths.entries(of: sandbox) == ["gated", "qwen3"])
    }

    @Test func unknownOrMismatchedExtensionsAreRefused() throws {
        let sandbox = try Self.sandbox()
        defer { Fixtures.remove(sandbox) }
        let model = Paths.join(sandbox, "llama")
        try Self.expectRefused(["convert", model, Paths.join(sandbox, "out.bin")], "extension '.bin'", in: sandbox)
        try Self.expectRefused(["forward", model, "--tokens", "1", "--out", Paths.join(sandbox, "logits.gguf")], "extension '.gguf'", in: sandbox)
        try Self.expectRefused(["forward", model, "--tokens", "1", "--report", Paths.join(sandbox, "report.txt")], "extension '.txt'", in: sandbox)
        try Self.expectRefused(["convert", model, Paths.join(sandbox, "out.gguf") + "/"], "ends in / but has the file extension '.gguf'", in: sandbox)
        mkdir(Paths.join(sandbox, "dir.gguf"), 0o755)
        try Self.expectRefused(["convert", model, Paths.join(sandbox, "dir.gguf")], "a directory is there", in: sandbox)
    }

    /// A single file finds its own config: its metadata, NAME.config.json,
    /// then a config.json beside it only if it fits; errors name the config.
    @Test func singleFilesFindTheirOwnConfig() throws {
        let sandbox = try Self.sandbox(copying: "models/qwen3", as: "q3")
        defer { Fixtures.remove(sandbox) }
        let folder = Paths.join(sandbox, "q3")
        let file = Paths.join(folder, "model.safetensors")
        // config.json of another model beside the file: refused, naming it.
        try Paths.copyFile(from: Fixtures.path("models/llama/config.json"), to: Paths.join(folder, "config.json"))
        let outcome = CLI.run(["forward", file, "--tokens", "1,2"])
        #expect(outcome.status == 2)
        #expect(outcome.errorOutput.contains("config.json beside the file") && outcome.errorOutput.contains("--config"), "\(outcome.errorOutput)")
        // NAME.config.json wins over config.json.
        try Paths.copyFile(from: Fixtures.path("models/qwen3/config.json"), to: Paths.join(folder, "model.config.json"))
        try CLI.succeed(["forward", file, "--tokens", "1,2"])
        // A directory of two unrelated files is not one model.
        try CLI.succeed(["add-gate", file, Paths.join(folder, "gated.safetensors")])
        let inspect = CLI.run(["inspect", folder])
        #expect(inspect.status == 2 && inspect.errorOutput.contains("not the shards of one model"), "\(inspect.errorOutput)")
        try CLI.succeed(["inspect", Paths.join(folder, "gated.safetensors")])
    }

    /// A run killed with SIGKILL leaves `.NAME.gatesurgeon-partial-PID-N`;
    /// the next run writing there removes it once that process is gone.
    @Test func partialsOfKilledRunsAreRemoved() throws {
        let sandbox = try Self.sandbox()
        defer { Fixtures.remove(sandbox) }
        let dead = Paths.join(sandbox, ".out.gguf.gatesurgeon-partial-2147483646-1")
        let alive = Paths.join(sandbox, ".out.gguf.gatesurgeon-partial-1-1")
        try Paths.writeText("partial", to: dead)
        try Paths.writeText("partial", to: alive)
        let outcome = try CLI.succeed(["convert", Paths.join(sandbox, "llama"), Paths.join(sandbox, "out.gguf")])
        #expect(!Paths.exists(dead))
        #expect(Paths.exists(alive), "pid 1 is alive: its partial is not ours to remove")
        #expect(outcome.errorOutput.contains("left by an interrupted run"))
    }

    /// The outputs of one command (weights, config.json, tokenizer files)
    /// appear together or not at all: a tokenizer file that cannot be read
    /// fails the run after the weights and config.json are written, and
    /// none of them reaches the output path.
    @Test func outputsOfOneCommandAreCommittedTogether() throws {
        let work = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(work) }
        let model = Paths.join(work, "model")
        try Fixtures.copyDirectory(from: Fixtures.path("models/llama"), to: model)
        let fifo = Paths.join(model, "tokenizer.extra")
        #expect(mkfifo(fifo, 0o644) == 0)
        let output = Paths.join(work, "out")
        let failed = CLI.run(["convert", model, output + "/", "--dtype", "bf16"])
        #expect(failed.status == 2)
        #expect(failed.errorOutput.contains("write [21/21]"), "the weights were written before the failure")
        #expect(failed.errorOutput.hasSuffix("\nerror: \(fifo): cannot open: not a regular file (it is a FIFO)\n"), "\(failed.errorOutput)")
        #expect(Paths.entries(of: work) == ["model"], "no output, no partial")

        #expect(unlink(fifo) == 0)
        try CLI.succeed(["convert", model, output + "/", "--dtype", "bf16"])
        let written = Set(Paths.entries(of: output))
        #expect(written.isSuperset(of: ["model.safetensors", "config.json", "tokenizer.json", "tokenizer.model", "tokenizer_config.json"]), "\(written)")
    }
}
