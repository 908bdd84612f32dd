import GateSurgeon
import Platform
import Testing

/// Regression inputs of fixtures/bad for defects a valid-looking file used
/// to get through: names that json-c reads differently from the reference
/// parser, tensor names ggml cannot hold, and shapes whose arithmetic
/// trapped. Each is refused by every command with one `error:` line naming
/// the file and the byte offset, exit status 2, and nothing written.
@Suite struct HostileInputTests {
    /// (file, problem, byte offset named): offsets counted from the layouts
    /// fixtures/gen/bad.py writes (safetensors JSON starts at byte 8; the
    /// GGUF tensor infos at byte 101, the dimensions of "a" at 114).
    static let cases: [(String, String, Int)] = [
        ("st-escaped-duplicate-name.safetensors", #"duplicate key "a" (written "\u0061")"#, 96),
        ("st-control-char-in-name.safetensors", "raw control character U+0001 inside a string", 42),
        ("st-nul-in-name.safetensors", "object key contains U+0000", 40),
        ("st-lone-surrogate-name.safetensors", "lone surrogate", 41),
        ("st-zero-dim-overflow.safetensors", "shape [1099511627776, 1099511627776, 0] overflows a 64-bit element count", 40),
        ("gguf-name-64-bytes.gguf", "is 64 bytes; ggml allows at most 63", 101),
        ("gguf-name-nul.gguf", "contains a NUL byte", 101),
        ("gguf-dim-0-and-max.gguf", "18446744073709551615 overflows a signed 64-bit dimension", 114),
        ("gguf-zero-dim-overflow.gguf", "dimensions [0, 1099511627776, 1099511627776] at byte 114 overflow a 64-bit element count", 114),
    ]

    @Test(arguments: 0..<cases.count)
    func regressionInputIsRefusedByEveryCommand(index: Int) throws {
        let (name, problem, offset) = Self.cases[index]
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let input = Paths.join(directory, name)
        try Paths.copyFile(from: Fixtures.path("bad/\(name)"), to: input)
        let commands: [[String]] = [
            ["inspect", input], ["inspect", input, "--stats", "--json"],
            ["convert", input, Paths.join(directory, "out.gguf")],
            ["convert", input, Paths.join(directory, "out.safetensors"), "--dtype", "bf16"],
        ]
        for arguments in commands {
            let outcome = CLI.run(arguments)
            let message = outcome.errorOutput
            #expect(outcome.status == 2, "\(arguments): \(message)")
            #expect(message.hasPrefix("error: \(input): "), "\(message)")
            #expect(message.contains(problem), "\(message)")
            #expect(message.contains("byte \(offset)"), "\(message)")
            #expect(message.hasSuffix("\n") && !message.dropLast().contains("\n"), "one line: \(message)")
            #expect(outcome.output.isEmpty)
            #expect(Paths.entries(of: directory) == [name], "nothing written")
        }
    }

    /// The Python packages' verdict on each new input is recorded next to
    /// it; gatesurgeon is at least as strict (safetensors' Rust parser keeps
    /// a NUL inside a name, which json-c cannot).
    @Test func manifestRecordsEveryRegressionInput() throws {
        let manifest = try #require(Fixtures.json("bad/MANIFEST.json").objectValue)
        for (name, _, _) in Self.cases {
            let entry = try #require(manifest[name], "\(name) missing from MANIFEST.json")
            #expect(entry["defect"]?.stringValue?.isEmpty == false)
            #expect(entry["python"]?.stringValue?.isEmpty == false)
        }
    }

    /// Shapes within the limits never trap, in any order of multiplication.
    @Test func elementCountsOfExtremeShapesDoNotTrap() throws {
        let file = try MappedFile(path: Fixtures.path("bad/st-good.safetensors"))
        let handBuilt = StoredTensor(name: "x", dtype: .f32, shape: [1 << 40, 1 << 40, 0], file: file, byteRange: 0..<0)
        #expect(handBuilt.elementCount == Int.max, "an overflowing product saturates")
        #expect(throws: TensorStatisticsError.self) { try TensorStatistics(of: handBuilt) }
        let empty = StoredTensor(name: "y", dtype: .f32, shape: [0, 1 << 30, 1 << 30], file: file, byteRange: 0..<0)
        #expect(empty.elementCount == 0)
        #expect(try TensorStatistics(of: empty).count == 0)
    }

    /// GGUF tensor names: 63 bytes is the longest ggml holds; the writer
    /// refuses 64 before creating anything, and the reader reads 63 back.
    @Test func ggufWriterRefusesNamesGGMLCannotHold() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let longest = String(repeating: "n", count: GGUFFile.maximumNameLength)
        let metadata: Metadata<GGUFValue> = ["general.architecture": .string("test")]
        let path = Paths.join(directory, "ok.gguf")
        try GGUFWriter.write(metadata: metadata, tensors: [.floats([1, 2], name: longest, shape: [2])], to: path)
        #expect(try GGUFFile(path: path).tensors.map(\.name) == [longest])
        for name in [longest + "n", "a\u{0}b"] {
            let refused = Paths.join(directory, "refused.gguf")
            let error = try #require(throws: GGUFWriteError.self) {
                try GGUFWriter.write(metadata: metadata, tensors: [.floats([1, 2], name: name, shape: [2])], to: refused)
            }
            #expect(String(describing: error).contains(name.utf8.count == 64 ? "is 64 bytes" : "NUL"))
            #expect(!Paths.exists(refused))
        }
    }

    /// A tensor name with NUL cannot go into a safetensors header (json-c
    /// writes keys as C strings).
    @Test func safetensorsWriterRefusesNULInNames() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let path = Paths.join(directory, "x.safetensors")
        #expect(throws: SafetensorsWriteError.self) {
            try SafetensorsWriter.write([.floats([1], name: "a\u{0}b", shape: [1])], metadata: nil, to: path)
        }
        #expect(!Paths.exists(path))
    }
}
