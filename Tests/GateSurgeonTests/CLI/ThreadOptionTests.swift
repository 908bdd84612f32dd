import GateSurgeon
import Platform
import Testing

/// `--threads N` on every command: a real limit that changes no output byte.
@Suite struct ThreadOptionTests {
    static let commands: [[String]] = [
        ["inspect", "model/", "--stats"],
        ["add-gate", "model/", "out/"],
        ["convert", "model/", "out.gguf", "--quant", "q4_k"],
        ["forward", "model/", "--tokens", "1,2,3"],
        ["verify", "model/", "model/", "--tokens", "1,2,3"],
        ["imatrix", "model/", "--text", "text.txt", "-o", "out.gguf"],
    ]

    /// Every command takes the option and refuses a count below one with a
    /// usage error before reading anything, saying why (a negative count is
    /// a count, not a missing value).
    @Test(arguments: commands, [("0", "at least 1, not 0"), ("-1", "at least 1, not -1"), ("two", "'two' is invalid for '--threads <n>'")])
    func threadCountsBelowOneAreUsageErrors(command: [String], value: (String, String)) throws {
        // The paths name files in an empty folder: a refusal that came too late would show.
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let arguments = command.enumerated().map { $0.offset > 0 && ($0.element.contains("/") || $0.element.contains(".")) ? Paths.join(directory, $0.element) : $0.element }
        let outcome = CLI.run(arguments + ["--threads", value.0])
        #expect(outcome.status == 2)
        #expect(outcome.errorOutput.hasPrefix("error: gatesurgeon \(command[0]): --threads") || outcome.errorOutput.hasPrefix("error: gatesurgeon \(command[0]): the value"),
                "\(outcome.errorOutput)")
        #expect(outcome.errorOutput.contains(value.1), "\(outcome.errorOutput)")
        #expect(outcome.output.isEmpty)
        #expect(Paths.entries(of: directory).isEmpty)
    }

    @Test(arguments: commands)
    func everyCommandListsTheOption(command: [String]) throws {
        let help = try CLI.succeed([command[0], "--help"]).output
        #expect(help.contains("--threads <n>"), "\(help)")
    }

    /// A model whose tensors are large enough to be split over threads
    /// (more than `ParallelChunks.minimumParallelElements` values).
    static func writeModel(to directory: String) throws {
        try SyntheticModels.writeLlama(to: directory, vocab: 2048, hidden: 256, intermediate: 512, layers: 1, heads: 4, kvHeads: 2)
    }

    /// Casts, quantization, statistics and the forward pass write the same
    /// bytes on one thread as on two. The one-thread runs are processes of
    /// their own: in this one, commands running concurrently share the
    /// process-wide limit and would lift it.
    @Test func outputsAreTheSameOnOneAndTwoThreads() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let model = Paths.join(directory, "model")
        mkdir(model, 0o755)
        try Self.writeModel(to: model)
        let tokens = "5,17,1999,3,640,77,1024,9"
        for threads in ["1", "2"] {
            let out = Paths.join(directory, threads)
            mkdir(out, 0o755)
            /// Runs the command with `--threads`; returns its standard output.
            @discardableResult
            func run(_ arguments: [String]) throws -> String {
                guard threads == "1" else { return try CLI.succeed(arguments + ["--threads", threads]).output }
                let outputPath = Paths.join(directory, "stdout.txt")
                let child = try Executable.start(arguments + ["--threads", threads], scratch: directory, outputPath: outputPath)
                let termination = child.wait(seconds: 300)
                try #require(termination == .exited(0), "\(arguments): \(child.errorOutput)")
                return String(decoding: try Paths.readFile(outputPath), as: UTF8.self)
            }
            try run(["convert", model, Paths.join(out, "model.bf16.safetensors"), "--dtype", "bf16"])
            try run(["convert", model, Paths.join(out, "model.f16.gguf"), "--dtype", "f16"])
            try run(["convert", model, Paths.join(out, "model.q8_0.gguf"), "--quant", "q8_0"])
            try run(["convert", model, Paths.join(out, "model.q4_k.gguf"), "--quant", "q4_k"])
            try run(["forward", model, "--tokens", tokens, "--out", Paths.join(out, "logits.safetensors")])
            try run(["forward", Paths.join(out, "model.q8_0.gguf"), "--tokens", tokens, "--out", Paths.join(out, "logits-q8_0.safetensors")])
            let stats = try run(["inspect", model, "--stats", "--json"])
            try SyntheticModels.writeFile(Paths.join(out, "stats.json"), Array(stats.utf8))
        }
        let names = Paths.entries(of: Paths.join(directory, "1")).sorted()
        #expect(names.count == 7)
        for name in names {
            let one = try Self.comparableBytes(Paths.join(directory, "1/" + name))
            let two = try Self.comparableBytes(Paths.join(directory, "2/" + name))
            let same = one == two
            #expect(same, "\(name) differs between 1 and 2 threads")
        }
    }

    /// `--threads 1` runs every parallel loop on the calling thread. Checked
    /// in a process of its own (in this one, commands running concurrently
    /// share the process-wide limit): one thread cannot use more CPU time
    /// than the time that passed, while without the limit a forward pass of
    /// this size keeps every core busy (the run with all threads shows it,
    /// when the machine has cores to spare).
    @Test func oneThreadMeansOneThread() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let model = Paths.join(directory, "model")
        mkdir(model, 0o755)
        try SyntheticModels.writeLlama(to: model, vocab: 4096, hidden: 512, intermediate: 1024, layers: 2, heads: 8, kvHeads: 2)
        let tokens = (0..<96).map { String($0 * 37 % 4096) }.joined(separator: ",")
        func run(_ threads: [String]) throws -> (cpu: Double, wall: Double) {
            let start = Executable.now()
            let child = try Executable.start(["forward", model, "--tokens", tokens] + threads, scratch: directory)
            let termination = child.wait(seconds: 300)
            let wall = Executable.now() - start
            try #require(termination == .exited(0), "\(child.errorOutput)")
            return (try #require(child.cpuSeconds), wall)
        }
        let one = try run(["--threads", "1"])
        let all = try run([])
        // 10 ms for rusage's clock granularity
        #expect(one.cpu <= one.wall + 0.01,
                "--threads 1 used \(one.cpu) s of CPU in \(one.wall) s (all threads: \(all.cpu) s in \(all.wall) s on \(Parallel.coreCount) cores)")
    }

    /// A file's bytes; for the logits files, which name the model they ran
    /// (whose path differs here), the logits tensor's bytes.
    static func comparableBytes(_ path: String) throws -> [UInt8] {
        guard path.hasSuffix("logits.safetensors") || path.hasSuffix("logits-q8_0.safetensors") else { return try Paths.readFile(path) }
        let logits = try #require(try Checkpoint(path: path).tensors.first)
        return logits.withBytes { Array($0) }
    }
}
