import GateSurgeon
@testable import GateSurgeonCommands
import JSON
import Testing

/// Split GGUF models as llama.cpp's `llama-gguf-split` writes them
/// (fixtures/split/, made by fixtures/gen/split.py from committed GGUF
/// files): any part opens the whole model, which reads as the whole file
/// does; parts that do not make one model are refused naming the part.
@Suite struct SplitGGUFTests {
    /// The split fixtures: the tool's parts of `gguf/<name>.gguf` (3 parts each).
    static let models = ["llama-q8_0", "qwen3_moe-q4_0"]

    static func parts(of model: String) throws -> [String] {
        let description = try Fixtures.json("reference/split/inspect/\(model).json")
        return try #require(description["parts"]?.arrayValue).compactMap(\.stringValue)
    }

    /// Every part opens the model gguf-py reads from all the parts: every
    /// tensor with its part and offset, the first part's metadata without
    /// the split keys.
    @Test(arguments: models)
    func anyPartOpensTheWholeModel(model: String) throws {
        let expected = try Fixtures.json("reference/split/inspect/\(model).json")
        let parts = try Self.parts(of: model)
        #expect(parts.count == 3)
        for part in parts {
            let checkpoint = try Checkpoint(path: Fixtures.path("split/\(part)"))
            let gguf = try #require(checkpoint.gguf)
            #expect(gguf.isSplit && checkpoint.isMultiFile)
            #expect(gguf.path == Fixtures.path("split/\(parts[0])"))
            let ours = InspectReport(checkpoint: checkpoint, tensors: InspectReport.listedTensors(of: checkpoint)).json()
            #expect(ours["parts"] == expected["parts"])
            let mine = try #require(ours["tensors"]?.arrayValue)
            let theirs = try #require(expected["tensors"]?.arrayValue)
            #expect(mine.count == theirs.count && !theirs.isEmpty)
            for (a, b) in zip(mine, theirs) {
                for key in ["name", "dtype", "shape", "offset", "bytes", "file"] {
                    #expect(a[key] == b[key], "\(part): \(b["name"]?.stringValue ?? "?") \(key)")
                }
            }
            let metadata = try #require(expected["metadata"]?.objectValue)
            #expect(gguf.metadata.count == metadata.count)
            for (key, value) in metadata {
                let mineValue = try #require(ours["metadata"]?[key], "missing metadata \(key)")
                #expect(InspectTests.equivalent(mineValue, value), "\(part): metadata \(key)")
            }
            #expect(!gguf.metadata.keys.contains { $0.hasPrefix("split.") })
        }
    }

    /// From any part: the whole file's tensors (same bytes), forward logits
    /// (bit for bit) and convert output (byte for byte).
    @Test(arguments: models)
    func readsAsTheWholeFile(model: String) throws {
        let whole = try Checkpoint(path: Fixtures.path("gguf/\(model).gguf"))
        let parts = try Self.parts(of: model)
        let split = try Checkpoint(path: Fixtures.path("split/\(parts[1])"))
        #expect(split.tensors.map(\.name) == whole.tensors.map(\.name))
        for (a, b) in zip(split.tensors, whole.tensors) {
            #expect(a.dtype == b.dtype && a.shape == b.shape)
            let bytesA = a.file.withBytes(in: a.byteRange) { Array($0) }
            let bytesB = b.file.withBytes(in: b.byteRange) { Array($0) }
            #expect(bytesA == bytesB, "\(a.name)")
        }
        let wholeGraph = try ModelGraph(checkpoint: whole)
        let splitGraph = try ModelGraph(checkpoint: split)
        let check = try Verification.compare(wholeGraph, splitGraph, tokens: Fixtures.referenceTokens)
        #expect(check.comparison.maxAbsDifference == 0)

        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        for (input, name) in [(Fixtures.path("gguf/\(model).gguf"), "whole"), (Fixtures.path("split/\(parts[2])"), "split")] {
            try CLI.succeed(["convert", input, Paths.join(directory, "\(name)/"), "--dtype", "f32", "--quiet"])
            try CLI.succeed(["convert", input, Paths.join(directory, "\(name).gguf"), "--dtype", "f32", "--quiet"])
        }
        #expect(Paths.entries(of: Paths.join(directory, "split")) == Paths.entries(of: Paths.join(directory, "whole")))
        for name in Paths.entries(of: Paths.join(directory, "whole")) {
            #expect(try Paths.readFile(Paths.join(directory, "split/\(name)")) == Paths.readFile(Paths.join(directory, "whole/\(name)")), "\(name)")
        }
        #expect(try Paths.readFile(Paths.join(directory, "split.gguf")) == Paths.readFile(Paths.join(directory, "whole.gguf")))
    }

    /// `inspect` text names the part of each tensor and counts the parts.
    @Test func inspectTextShowsTheParts() throws {
        let parts = try Self.parts(of: "llama-q8_0")
        let outcome = try CLI.succeed(["inspect", Fixtures.path("split/\(parts[2])")])
        let lines = outcome.output.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("\(Fixtures.path("split/\(parts[0])")): gguf v3, 3 parts, 22 tensors") == true, "\(lines.first ?? "")")
        let expected = try #require(try Fixtures.json("reference/split/inspect/llama-q8_0.json")["tensors"]?.arrayValue)
        for tensor in expected {
            let name = try #require(tensor["name"]?.stringValue), file = try #require(tensor["file"]?.stringValue)
            let row = try #require(lines.first { $0.hasPrefix(name + " ") })
            #expect(row.hasSuffix("  " + file), "\(row)")
        }
        #expect(Set(expected.compactMap { $0["file"]?.stringValue }) == Set(parts))
        #expect(!outcome.output.contains("split.count"))
    }

    /// `--tokenizer-from` takes any part: the tokenizer keys are the first part's.
    @Test func tokenizerFromAnyPart() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let parts = try Self.parts(of: "llama-q8_0")
        let output = Paths.join(directory, "out.gguf")
        try CLI.succeed(["convert", Fixtures.path("models/llama"), output, "--tokenizer-from", Fixtures.path("split/\(parts[1])"), "--quiet"])
        func tokenizerKeys(_ path: String) throws -> Metadata<GGUFValue> {
            Metadata(try GGUFFile(path: path).metadata.filter { $0.key.hasPrefix("tokenizer.") })
        }
        let expected = try tokenizerKeys(Fixtures.path("gguf/llama-q8_0.gguf"))
        let written = try tokenizerKeys(output)
        #expect(!expected.isEmpty && written == expected)
    }

    // MARK: Parts that do not make one model

    /// Copies parts of the llama split into a fresh folder under new names.
    static func folder(_ copies: [(from: Int, as: String)], model: String = "llama-q8_0") throws -> String {
        let directory = Fixtures.temporaryDirectory()
        let parts = try Self.parts(of: model)
        for (index, name) in copies {
            try Paths.copyFile(from: Fixtures.path("split/\(parts[index])"), to: Paths.join(directory, name))
        }
        return directory
    }

    static func expectRefused(_ path: String, naming part: String, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let outcome = CLI.run(["inspect", path])
        #expect(outcome.status == 2, sourceLocation: sourceLocation)
        let error = outcome.errorOutput
        #expect(error.hasPrefix("error: \(part): ") && error.hasSuffix("\n") && !error.dropLast().contains("\n"), "\(error)", sourceLocation: sourceLocation)
        #expect(error.contains(message), "\(error)", sourceLocation: sourceLocation)
        #expect(outcome.output.isEmpty, sourceLocation: sourceLocation)
    }

    @Test func missingPartIsNamed() throws {
        let directory = try Self.folder([(0, "m-00001-of-00003.gguf"), (2, "m-00003-of-00003.gguf")])
        defer { Fixtures.remove(directory) }
        for given in ["m-00001-of-00003.gguf", "m-00003-of-00003.gguf"] {
            Self.expectRefused(Paths.join(directory, given), naming: Paths.join(directory, "m-00002-of-00003.gguf"), "part 2 of 3 of the split GGUF")
        }
    }

    @Test func partsOutOfOrderAreNamed() throws {
        let directory = try Self.folder([(0, "m-00001-of-00003.gguf"), (2, "m-00002-of-00003.gguf"), (1, "m-00003-of-00003.gguf")])
        defer { Fixtures.remove(directory) }
        Self.expectRefused(Paths.join(directory, "m-00001-of-00003.gguf"), naming: Paths.join(directory, "m-00002-of-00003.gguf"),
                           "split.no is 2, but the part's name makes it 1")
    }

    /// A part of another split of three (27 tensors, not 22) in the middle.
    @Test func partOfAnotherModelIsNamed() throws {
        let directory = try Self.folder([(0, "m-00001-of-00003.gguf"), (2, "m-00003-of-00003.gguf")])
        defer { Fixtures.remove(directory) }
        let other = try Self.parts(of: "qwen3_moe-q4_0")[1]
        try Paths.copyFile(from: Fixtures.path("split/\(other)"), to: Paths.join(directory, "m-00002-of-00003.gguf"))
        Self.expectRefused(Paths.join(directory, "m-00003-of-00003.gguf"), naming: Paths.join(directory, "m-00002-of-00003.gguf"),
                           "split.tensors.count is 27, but the first part says 22")
    }

    @Test func extraPartsAreNamed() throws {
        let directory = try Self.folder([(0, "m-00001-of-00003.gguf"), (1, "m-00002-of-00003.gguf"), (2, "m-00003-of-00003.gguf")])
        defer { Fixtures.remove(directory) }
        for extra in ["m-00004-of-00003.gguf", "m-00001-of-00002.gguf"] {
            try Paths.copyFile(from: Paths.join(directory, "m-00003-of-00003.gguf"), to: Paths.join(directory, extra))
            Self.expectRefused(Paths.join(directory, "m-00002-of-00003.gguf"), naming: Paths.join(directory, extra), "move it away")
            Paths.removeTree(Paths.join(directory, extra))
        }
        // Another name beside it is another model: no conflict.
        try Paths.copyFile(from: Paths.join(directory, "m-00003-of-00003.gguf"), to: Paths.join(directory, "other-00001-of-00002.gguf"))
        try CLI.succeed(["inspect", Paths.join(directory, "m-00002-of-00003.gguf")])
    }

    @Test func renamedPartIsNamed() throws {
        let directory = try Self.folder([(1, "model.gguf")])
        defer { Fixtures.remove(directory) }
        Self.expectRefused(Paths.join(directory, "model.gguf"), naming: Paths.join(directory, "model.gguf"),
                           "split GGUF part 2 of 3 (split.no 1), but not named NAME-00002-of-00003.gguf")
    }

    /// Parts written with altered split keys: a tensor in two parts, a
    /// wrong total, a key of the wrong type.
    @Test func inconsistentKeysAreRefused() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let parts = try Self.parts(of: "llama-q8_0").map { try GGUFFile(path: Fixtures.path("split/\($0)")) }
        func write(_ index: Int, metadata: Metadata<GGUFValue>? = nil, tensors: [StoredTensor]? = nil) throws {
            let part = parts[index]
            try GGUFWriter.write(metadata: metadata ?? part.metadata, tensors: (tensors ?? part.tensors).map { OutputTensor.copying($0) },
                                 to: Paths.join(directory, "m-0000\(index + 1)-of-00003.gguf"))
        }
        let first = Paths.join(directory, "m-00001-of-00003.gguf")
        try write(0)
        try write(1)
        try write(2, tensors: parts[2].tensors + [parts[1].tensors[0]])
        Self.expectRefused(first, naming: Paths.join(directory, "m-00003-of-00003.gguf"),
                           "tensor '\(parts[1].tensors[0].name)' is also in part \(Paths.join(directory, "m-00002-of-00003.gguf"))")
        try write(2, tensors: Array(parts[2].tensors.dropLast()))
        Self.expectRefused(first, naming: first, "split.tensors.count is 22, but the parts hold 21 tensors")
        var metadata = parts[2].metadata
        metadata[GGUFSplit.numberKey] = .string("2")
        try write(2, metadata: metadata)
        Self.expectRefused(first, naming: Paths.join(directory, "m-00003-of-00003.gguf"), "split GGUF key 'split.no' is not an integer")
        metadata[GGUFSplit.numberKey] = .uint16(2)
        metadata[GGUFSplit.countKey] = .uint16(4)
        try write(2, metadata: metadata)
        Self.expectRefused(first, naming: Paths.join(directory, "m-00003-of-00003.gguf"), "split.count is 4, but the first part says 3")
    }

    /// A merged file (`llama-gguf-split --merge` leaves split.count 0) and
    /// a single part `-00001-of-00001` are models in one file.
    @Test func oneFileWithSplitKeysIsOneModel() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let source = try GGUFFile(path: Fixtures.path("gguf/llama-q8_0.gguf"))
        for (name, count) in [("merged.gguf", 0), ("single-00001-of-00001.gguf", 1)] {
            var metadata = source.metadata
            metadata[GGUFSplit.numberKey] = .uint16(0)
            metadata[GGUFSplit.tensorCountKey] = .int32(Int32(source.tensors.count))
            metadata[GGUFSplit.countKey] = .uint16(UInt16(count))
            let path = Paths.join(directory, name)
            try GGUFWriter.write(metadata: metadata, tensors: source.tensors.map { OutputTensor.copying($0) }, to: path)
            let model = try GGUFModel(path: path)
            #expect(!model.isSplit && model.tensors.count == source.tensors.count)
            #expect(model.metadata == source.metadata)
        }
    }

    /// An output may not be any part of a split input, whichever part was given.
    @Test func everyPartIsAnInput() throws {
        let directory = try Self.folder([(0, "m-00001-of-00003.gguf"), (1, "m-00002-of-00003.gguf"), (2, "m-00003-of-00003.gguf")])
        defer { Fixtures.remove(directory) }
        let before = try Paths.readFile(Paths.join(directory, "m-00003-of-00003.gguf"))
        let outcome = CLI.run(["convert", Paths.join(directory, "m-00001-of-00003.gguf"), Paths.join(directory, "m-00003-of-00003.gguf"),
                               "--dtype", "f32", "--force"])
        #expect(outcome.status == 2)
        #expect(outcome.errorOutput.contains("output is an input"), "\(outcome.errorOutput)")
        #expect(try Paths.readFile(Paths.join(directory, "m-00003-of-00003.gguf")) == before)
        #expect(Paths.entries(of: directory).count == 3)
    }
}
