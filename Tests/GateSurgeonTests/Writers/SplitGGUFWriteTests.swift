import GateSurgeon
import JSON
import Platform
import Testing

/// GGUF output split into parts (`--split-max-tensors`, `--split-max-size`,
/// `--max-shard-size`). The fixtures generator's step `split` showed, for
/// the files these tests write, that the parts are byte for byte what
/// `llama-gguf-split` makes of the unsplit file with the same option, that
/// llama.cpp loads them from the first part with the unsplit file's
/// logits, and that `llama-gguf-split --merge` turns them into the unsplit
/// file with the three keys merge leaves (fixtures/reference/split/summary.json).
/// These tests write the same files with today's code and require the SHA-256
/// of the tool's parts.
@Suite struct SplitGGUFWriteTests {
    static let cases = ["llama-f32", "qwen3_moe-Q4_K_M", "presets-llama-f32"]

    static func entry(_ name: String) throws -> JSONValue {
        try #require(try Fixtures.json("reference/split/summary.json")["write"]?[name])
    }

    /// The command's arguments with fixture paths made absolute and OUT replaced.
    static func arguments(_ entry: JSONValue, output: String) throws -> [String] {
        try #require(entry["arguments"]?.arrayValue).compactMap(\.stringValue).map { word in
            if word == "OUT" { return output }
            return word.hasPrefix("models/") || word.hasPrefix("gguf/") ? Fixtures.path(word) : word
        }
    }

    @Test(arguments: cases)
    func partsAreLlamaGGUFSplitsBytes(name: String) throws {
        let entry = try Self.entry(name)
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let splitOptions = try #require(entry["split_options"]?.arrayValue).compactMap(\.stringValue)
        try CLI.succeed(try Self.arguments(entry, output: Paths.join(directory, "\(name).gguf")) + splitOptions + ["--quiet"])
        let expected = try #require(entry["parts"]?.arrayValue)
        #expect(expected.count > 1)
        #expect(Paths.entries(of: directory) == expected.compactMap { $0["file"]?.stringValue })
        for part in expected {
            let file = try #require(part["file"]?.stringValue)
            #expect(SHA256.hexDigest(try Paths.readFile(Paths.join(directory, file))) == part["sha256"]?.stringValue, "\(file)")
        }

        // The unsplit file, and what llama-gguf-split --merge made of the parts:
        // the same file with split.no 0, split.tensors.count and split.count 0 appended.
        let unsplitPath = Paths.join(directory, "unsplit.gguf")
        try CLI.succeed(try Self.arguments(entry, output: unsplitPath) + ["--quiet"])
        #expect(SHA256.hexDigest(try Paths.readFile(unsplitPath)) == entry["unsplit_sha256"]?.stringValue)
        let unsplit = try GGUFFile(path: unsplitPath)
        var merged = unsplit.metadata
        merged[GGUFSplit.numberKey] = .uint16(0)
        merged[GGUFSplit.tensorCountKey] = .int32(Int32(unsplit.tensors.count))
        merged[GGUFSplit.countKey] = .uint16(0)
        let mergedPath = Paths.join(directory, "merged.gguf")
        try GGUFWriter.write(metadata: merged, tensors: unsplit.tensors.map { OutputTensor.copying($0) }, to: mergedPath)
        #expect(SHA256.hexDigest(try Paths.readFile(mergedPath)) == entry["merged_sha256"]?.stringValue)

        // Read back from its last part: the unsplit file's model.
        let first = try #require(expected.first?["file"]?.stringValue)
        let last = try #require(expected.last?["file"]?.stringValue)
        let model = try GGUFModel(path: Paths.join(directory, last))
        #expect(model.path == Paths.join(directory, first))
        #expect(model.metadata == unsplit.metadata)
        #expect(model.tensors.map(\.name) == unsplit.tensors.map(\.name))
    }

    /// The README's promise for the real model: its parts were checked the same way.
    @Test func publishedModelWasSplitBothWays() throws {
        let real = try #require(try Fixtures.json("reference/split/summary.json")["real"])
        #expect(try #require(real["tool_split"]?["parts"]?.arrayValue).count > 1)
        #expect(real["read_back"]?["forward_logits_equal_whole"] == .bool(true))
        #expect(real["written"]?["parts_equal_llama_gguf_split_of_unsplit"] == .bool(true))
        #expect(try #require(real["written"]?["parts"]?.arrayValue).count > 1)
    }

    /// Within the limit, one part named and keyed as llama-gguf-split writes
    /// it; `--max-shard-size` cuts GGUF by bytes as `--split-max-size` does.
    @Test func aModelWithinTheLimitIsOnePart() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        try CLI.succeed(["convert", Fixtures.path("models/llama"), Paths.join(directory, "out.gguf"), "--max-shard-size", "1GB", "--quiet"])
        #expect(Paths.entries(of: directory) == ["out-00001-of-00001.gguf"])
        let part = try GGUFFile(path: Paths.join(directory, "out-00001-of-00001.gguf"))
        #expect(Array(part.metadata.keys.suffix(3)) == [GGUFSplit.numberKey, GGUFSplit.tensorCountKey, GGUFSplit.countKey])
        #expect(part.metadata[GGUFSplit.countKey] == .uint16(1))
        let bySize = Paths.join(directory, "by-size")
        mkdir(bySize, 0o755)
        try CLI.succeed(["convert", Fixtures.path("gguf/presets-llama.gguf"), Paths.join(bySize, "a.gguf"), "--dtype", "f32", "--max-shard-size", "1MB", "--quiet"])
        try CLI.succeed(["convert", Fixtures.path("gguf/presets-llama.gguf"), Paths.join(bySize, "b.gguf"), "--dtype", "f32", "--split-max-size", "1M", "--quiet"])
        let a = Paths.entries(of: bySize).filter { $0.hasPrefix("a-") }
        let b = Paths.entries(of: bySize).filter { $0.hasPrefix("b-") }
        #expect(a.count > 1 && a.count == b.count)
        for (x, y) in zip(a, b) { #expect(try Paths.readFile(Paths.join(bySize, x)) == Paths.readFile(Paths.join(bySize, y))) }
    }

    /// Every part appears or none: a part path that cannot be written stops
    /// the command before any part is written.
    @Test func partsAreCommittedTogetherOrNotAtAll() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        mkdir(Paths.join(directory, "out-00002-of-00003.gguf"), 0o755)
        let outcome = CLI.run(["convert", Fixtures.path("models/llama"), Paths.join(directory, "out.gguf"), "--split-max-tensors", "10"])
        #expect(outcome.status == 2)
        #expect(outcome.errorOutput.contains("out-00002-of-00003.gguf"), "\(outcome.errorOutput)")
        #expect(Paths.entries(of: directory) == ["out-00002-of-00003.gguf"])
    }

    /// Parts of another split of the same name would leave two models beside
    /// each other: refused, even with --force; the same split is replaced.
    @Test func partsOfAnotherSplitAreRefused() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let output = Paths.join(directory, "out.gguf")
        try CLI.succeed(["convert", Fixtures.path("models/llama"), output, "--split-max-tensors", "10", "--quiet"])
        let written = Paths.entries(of: directory)
        #expect(written.count == 3)
        let again = CLI.run(["convert", Fixtures.path("models/llama"), output, "--split-max-tensors", "10"])
        #expect(again.status == 2 && again.errorOutput.contains("pass --force"), "\(again.errorOutput)")
        let other = CLI.run(["convert", Fixtures.path("models/llama"), output, "--split-max-tensors", "5", "--force"])
        #expect(other.status == 2)
        #expect(other.errorOutput.contains("out-00001-of-00003.gguf") && other.errorOutput.contains("it would hold two models"), "\(other.errorOutput)")
        #expect(Paths.entries(of: directory) == written)
        try CLI.succeed(["convert", Fixtures.path("models/llama"), output, "--split-max-tensors", "10", "--force", "--quiet"])
        #expect(Paths.entries(of: directory) == written)
    }

    /// What a split cannot be: a part name as the output, a file whose
    /// alignment llama-gguf-split's layout would break.
    @Test func unsplittableOutputsAreRefused() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let named = CLI.run(["convert", Fixtures.path("models/llama"), Paths.join(directory, "out-00001-of-00002.gguf"), "--split-max-tensors", "10"])
        #expect(named.status == 2 && named.errorOutput.contains("is already named as a part of a split GGUF"), "\(named.errorOutput)")
        let aligned = CLI.run(["convert", Fixtures.path("gguf/gguf-py-all-types.gguf"), Paths.join(directory, "out.gguf"), "--split-max-tensors", "2"])
        #expect(aligned.status == 2 && aligned.errorOutput.contains("general.alignment is 64"), "\(aligned.errorOutput)")
        #expect(Paths.entries(of: directory).isEmpty)
    }

    /// add-gate writes split GGUF too, and the parts read back as the unsplit output.
    @Test func addGateWritesParts() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        try CLI.succeed(["add-gate", Fixtures.path("models/qwen3"), Paths.join(directory, "gated.gguf"), "--quiet"])
        try CLI.succeed(["add-gate", Fixtures.path("models/qwen3"), Paths.join(directory, "parts.gguf"), "--split-max-tensors", "8", "--quiet"])
        let parts = Paths.entries(of: directory).filter { $0.hasPrefix("parts-") }
        #expect(parts.count == 4)
        let whole = try ModelGraph(checkpoint: Checkpoint(path: Paths.join(directory, "gated.gguf")))
        let split = try ModelGraph(checkpoint: Checkpoint(path: Paths.join(directory, parts[0])))
        #expect(try Verification.compare(whole, split, tokens: Fixtures.referenceTokens).comparison.maxAbsDifference == 0)
    }
}
