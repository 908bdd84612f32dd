import GateSurgeon
import JSON
import Platform
import Testing

/// `convert --dry-run` and `add-gate --dry-run`: the plan, the files that
/// would be written with their exact sizes, the total bytes and bits per
/// weight; exit 0 and nothing written, not even a partial.
@Suite struct DryRunTests {
    struct Run: Sendable, CustomTestStringConvertible {
        var command: String
        var input: String
        var output: String
        var options: [String]
        var testDescription: String { ([command, input, output] + options).joined(separator: " ") }
    }

    /// Every kind of output: GGUF file or parts, safetensors file or directory, from either format.
    static let runs = [
        Run(command: "convert", input: "models/llama", output: "out.gguf", options: ["--quant", "q8_0"]),
        Run(command: "convert", input: "models/llama", output: "out.gguf", options: ["--dtype", "f16", "--split-max-tensors", "10"]),
        Run(command: "convert", input: "gguf/presets-llama.gguf", output: "out.gguf", options: ["--quant", "q4_k_m", "--split-max-size", "1M"]),
        Run(command: "convert", input: "models/qwen3", output: "out/", options: ["--dtype", "bf16", "--max-shard-size", "20KB"]),
        Run(command: "convert", input: "gguf/llama-q8_0.gguf", output: "out.safetensors", options: ["--dtype", "f32"]),
        Run(command: "convert", input: "gguf/gguf-py-all-types.gguf", output: "out.gguf", options: ["--dtype", "f16"]),
        Run(command: "add-gate", input: "models/qwen3", output: "out.gguf", options: ["--split-max-tensors", "8"]),
        Run(command: "add-gate", input: "models/qwen3", output: "out/", options: []),
    ]

    /// The dry run writes nothing and announces exactly the files, sizes,
    /// tensor bytes and bits per weight the real run then writes.
    @Test(arguments: runs)
    func announcesWhatTheRunWrites(_ run: Run) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let output = run.output
        let target = Paths.join(directory, output)
        let arguments = [run.command, Fixtures.path(run.input), target] + run.options + ["--quiet"]
        let dry = try CLI.succeed(arguments + ["--dry-run", "--json"])
        #expect(Paths.entries(of: directory).isEmpty, "a dry run writes nothing")
        let planned = try JSONValue.parse(Array(dry.output.utf8))
        #expect(planned["dry_run"] == .bool(true))
        #expect(try #require(planned["plan"]?.arrayValue).count > 0)

        let real = try CLI.succeed(arguments + ["--json"])
        let written = try JSONValue.parse(Array(real.output.utf8))
        #expect(written["dry_run"] == nil)
        for key in ["files", "weight_files", "file_bytes", "tensors", "parameters", "bytes", "bits_per_weight", "by_type"] {
            #expect(planned["summary"]?[key] == written["summary"]?[key], "\(key)")
        }
        #expect(planned["output"] == written["output"])
        let folder = output.hasSuffix("/") ? target : directory
        var total = 0
        for file in try #require(written["summary"]?["weight_files"]?.arrayValue) {
            let name = try #require(file["file"]?.stringValue)
            let size = try MappedFile(path: Paths.join(folder, name)).size
            #expect(Int64(size) == file["bytes"]?.intValue, "\(name)")
            total += size
        }
        #expect(written["summary"]?["file_bytes"]?.intValue == Int64(total))
    }

    /// Text: the plan, then "would write" with each file.
    @Test func textNamesEveryFile() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let outcome = try CLI.succeed(["convert", Fixtures.path("models/llama"), Paths.join(directory, "out.gguf"),
                                       "--quant", "q8_0", "--split-max-tensors", "10", "--dry-run"])
        let lines = outcome.output.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.contains("self_attn.q_proj.weight x2 (layers 0-1)") && $0.contains("Q8_0") })
        let summary = try #require(lines.firstIndex { $0.hasPrefix("would write \(Paths.join(directory, "out-00001-of-00003.gguf")): 22 tensors") })
        #expect(lines[summary].contains("bits per weight"))
        #expect(lines[summary + 1].hasPrefix("  3 files, ") && lines[summary + 1].hasSuffix("with headers:"))
        for (offset, part) in ["out-00001-of-00003.gguf", "out-00002-of-00003.gguf", "out-00003-of-00003.gguf"].enumerated() {
            #expect(lines[summary + 2 + offset].hasPrefix("    \(part)"))
        }
        #expect(!outcome.output.contains("wrote"))
        #expect(Paths.entries(of: directory).isEmpty)
    }

    /// A dry run is refused where the run would be, and still writes nothing.
    @Test func refusesWhatTheRunWouldRefuse() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let existing = Paths.join(directory, "out.gguf")
        try Paths.writeText("not mine", to: existing)
        let outcome = CLI.run(["convert", Fixtures.path("models/llama"), existing, "--dtype", "f16", "--dry-run"])
        #expect(outcome.status == 2 && outcome.errorOutput.contains("pass --force"), "\(outcome.errorOutput)")
        let split = CLI.run(["convert", Fixtures.path("models/llama"), existing, "--dtype", "f16", "--split-max-tensors", "10", "--dry-run"])
        #expect(split.status == 0, "\(split.errorOutput)")
        mkdir(Paths.join(directory, "out-00003-of-00003.gguf"), 0o755)
        let blocked = CLI.run(["convert", Fixtures.path("models/llama"), existing, "--dtype", "f16", "--split-max-tensors", "10", "--dry-run"])
        #expect(blocked.status == 2 && blocked.errorOutput.contains("out-00003-of-00003.gguf"), "\(blocked.errorOutput)")
        #expect(Paths.entries(of: directory) == ["out-00003-of-00003.gguf", "out.gguf"])
        #expect(try Paths.readFile(existing) == Array("not mine".utf8))
    }
}
