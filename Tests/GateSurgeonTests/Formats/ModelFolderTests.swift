import GateSurgeon
import Platform
import Testing

/// Folders as people have them: a Hugging Face cache repository, PyTorch
/// pickles, GGUF files, shard sets with a file missing or left over.
@Suite struct ModelFolderTests {
    /// `models--org--qwen3/` as huggingface_hub's cache lays it out: the
    /// files in blobs/ under their hashes, each snapshot a folder of
    /// symbolic links into blobs/, refs/main naming the snapshot.
    static func cacheRepository(in directory: String, snapshots: [String]) throws -> String {
        let repository = Paths.join(directory, "models--org--qwen3")
        for folder in ["", "/blobs", "/refs", "/snapshots"] { mkdir(repository + folder, 0o755) }
        let source = Fixtures.path("models/qwen3")
        for name in Paths.entries(of: source) {
            let bytes = try Paths.readFile(Paths.join(source, name))
            let blob = SHA256.hexDigest(bytes)
            try Paths.copyFile(from: Paths.join(source, name), to: Paths.join(repository, "blobs/\(blob)"))
            for snapshot in snapshots {
                mkdir(Paths.join(repository, "snapshots/\(snapshot)"), 0o755)
                #expect(symlink("../../blobs/\(blob)", Paths.join(repository, "snapshots/\(snapshot)/\(name)")) == 0)
            }
        }
        try Paths.writeText(snapshots[0], to: Paths.join(repository, "refs/main"))
        return repository
    }

    @Test func cacheRepositoryIsItsSnapshot() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let repository = try Self.cacheRepository(in: directory, snapshots: ["0123abcd"])
        let reference = try Checkpoint(path: Fixtures.path("models/qwen3"))
        for path in [repository, repository + "/", Paths.join(repository, "snapshots")] {
            let checkpoint = try Checkpoint(path: path)
            #expect(checkpoint.path == Paths.join(repository, "snapshots/0123abcd"))
            #expect(checkpoint.tensors.map(\.name) == reference.tensors.map(\.name))
        }
        let output = Paths.join(directory, "out.gguf")
        try CLI.succeed(["convert", repository, output, "--dtype", "f32", "--quiet"])
        try CLI.succeed(["convert", Fixtures.path("models/qwen3"), Paths.join(directory, "reference.gguf"), "--dtype", "f32", "--quiet"])
        let a = try GGUFFile(path: output), b = try GGUFFile(path: Paths.join(directory, "reference.gguf"))
        #expect(a.tensors.map(\.name) == b.tensors.map(\.name) && a.metadata.count == b.metadata.count)
        // A blob the snapshot links to is an input: it may not be replaced.
        let blob = Paths.resolved(Paths.join(repository, "snapshots/0123abcd/model.safetensors"))
        let link = Paths.join(directory, "blob.safetensors")
        #expect(symlink(blob, link) == 0)
        let outcome = CLI.run(["convert", repository, link, "--dtype", "f32", "--force"])
        #expect(outcome.status == 2 && outcome.errorOutput.contains("output is the input"), "\(outcome.errorOutput)")
    }

    @Test func cacheRepositoryWithSeveralSnapshotsListsThem() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let repository = try Self.cacheRepository(in: directory, snapshots: ["aaaa1111", "bbbb2222"])
        let outcome = CLI.run(["inspect", repository])
        #expect(outcome.status == 2)
        let snapshots = Paths.join(repository, "snapshots")
        #expect(outcome.errorOutput == "error: \(repository): a Hugging Face cache folder with 2 snapshots; give one: \(snapshots)/aaaa1111 (refs/main), \(snapshots)/bbbb2222\n")
        try CLI.succeed(["inspect", Paths.join(snapshots, "bbbb2222")])
        Paths.removeTree(Paths.join(snapshots, "aaaa1111"))
        Paths.removeTree(Paths.join(snapshots, "bbbb2222"))
        let empty = CLI.run(["inspect", repository])
        #expect(empty.status == 2 && empty.errorOutput.contains("holds no snapshot"), "\(empty.errorOutput)")
    }

    /// Pickles are refused, saying why and how to get safetensors; a `.bin`
    /// that is no pickle is just not a checkpoint.
    @Test func pytorchPicklesAreRefused() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let folder = Paths.join(directory, "model")
        mkdir(folder, 0o755)
        try Paths.copyFile(from: Fixtures.path("models/qwen3/config.json"), to: Paths.join(folder, "config.json"))
        try SyntheticModels.writeFile(Paths.join(folder, "pytorch_model.bin"), [0x50, 0x4B, 0x03, 0x04] + [UInt8](repeating: 0, count: 60))
        try SyntheticModels.writeFile(Paths.join(folder, "training_args.bin"), [0x80, 0x02])
        let outcome = CLI.run(["inspect", folder])
        #expect(outcome.status == 2)
        #expect(outcome.errorOutput.hasPrefix("error: \(folder): pytorch_model.bin is a PyTorch pickle, which gatesurgeon does not read (unpickling runs code the file contains)"), "\(outcome.errorOutput)")
        #expect(outcome.errorOutput.contains("save_pretrained(\"OUT\")") && !outcome.errorOutput.dropLast().contains("\n"))
        for (name, bytes) in [("weights.pt", [UInt8](repeating: 0x80, count: 16)), ("weights.pth", [0x50, 0x4B, 0x03, 0x04]), ("weights.bin", [0x80, 0x04] + [UInt8](repeating: 0x95, count: 14))] {
            let file = Paths.join(directory, name)
            try SyntheticModels.writeFile(file, bytes)
            let single = CLI.run(["convert", file, Paths.join(directory, "out.gguf")])
            #expect(single.status == 2 && single.errorOutput.contains("\(file): a PyTorch pickle") && single.errorOutput.contains("weights_only=True"), "\(single.errorOutput)")
        }
        let other = Paths.join(directory, "data.bin")
        try SyntheticModels.writeFile(other, Array("plain bytes, no pickle".utf8))
        #expect(CLI.run(["inspect", other]).errorOutput.contains("not a safetensors or GGUF file"))
        #expect(Paths.entries(of: directory).sorted() == ["data.bin", "model", "weights.bin", "weights.pt", "weights.pth"])
    }

    /// A folder of GGUF files: one model (a file, or one split set) opens;
    /// several are listed.
    @Test func folderOfGGUFModels() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let split = Paths.join(directory, "split")
        mkdir(split, 0o755)
        for name in Paths.entries(of: Fixtures.path("split")) where name.hasPrefix("llama-q8_0-") {
            try Paths.copyFile(from: Fixtures.path("split/\(name)"), to: Paths.join(split, name))
        }
        let model = try Checkpoint(path: split)
        #expect(model.gguf?.parts.count == 3 && model.tensors.count == 22)
        try Paths.copyFile(from: Fixtures.path("gguf/llama-f32.gguf"), to: Paths.join(split, "llama-f32.gguf"))
        let outcome = CLI.run(["inspect", split])
        #expect(outcome.errorOutput == "error: \(split): holds 2 GGUF models and no safetensors weights (llama-f32.gguf, llama-q8_0-00001-of-00003.gguf); give one file\n")
    }

    /// Shard sets: a missing shard and a shard the index does not list are named.
    @Test func shardsMissingOrLeftOverAreNamed() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let folder = Paths.join(directory, "sharded")
        try Fixtures.copyDirectory(from: Fixtures.path("models/qwen3-sharded"), to: folder)
        let index = Paths.join(folder, "model.safetensors.index.json")
        let shards = Paths.entries(of: folder).filter { $0.hasSuffix(".safetensors") }
        #expect(shards.count == 3)
        let extra = Paths.join(folder, "model-00001-of-00004.safetensors")
        try Paths.copyFile(from: Paths.join(folder, shards[0]), to: extra)
        let leftover = CLI.run(["inspect", folder])
        #expect(leftover.errorOutput == "error: \(index): model-00001-of-00004.safetensors beside it is named as a shard, but the index maps no tensor to it (a shard of another save?); move it away\n")
        Paths.removeTree(extra)
        // Another name's file beside the index is not one of its shards.
        try Paths.copyFile(from: Paths.join(folder, shards[0]), to: Paths.join(folder, "consolidated.safetensors"))
        try CLI.succeed(["inspect", folder])
        Paths.removeTree(Paths.join(folder, shards[1]))
        let missing = CLI.run(["inspect", folder])
        #expect(missing.status == 2 && missing.errorOutput.contains("is mapped to shard \(shards[1]), which does not exist"), "\(missing.errorOutput)")
    }
}
