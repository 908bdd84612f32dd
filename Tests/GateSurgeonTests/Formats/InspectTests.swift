import GateSurgeon
@testable import GateSurgeonCommands
import JSON
import Testing

/// `inspect --json` against what the safetensors and gguf Python packages
/// report for every fixture (fixtures/reference/inspect, written by
/// fixtures/gen with safe_open and GGUFReader).
@Suite struct InspectTests {
    static let references = FixtureArgument.list("fixtures/reference/inspect/*.json") {
        Paths.entries(of: Fixtures.path("reference/inspect")).filter { $0.hasSuffix(".json") }
    }

    static func fixturePath(forReference name: String) -> String {
        let relative = String(name.dropLast(".json".count)).split(separator: "__", omittingEmptySubsequences: false).joined(separator: "/")
        return Fixtures.path(relative)
    }

    @Test(arguments: references)
    func agreesWithThePythonPackages(argument: FixtureArgument<String>) throws {
        let reference = try argument.value()
        let expected = try Fixtures.json("reference/inspect/\(reference)")
        let path = Self.fixturePath(forReference: reference)
        let checkpoint = try Checkpoint(path: path)
        let ours = InspectReport(checkpoint: checkpoint, tensors: InspectReport.listedTensors(of: checkpoint)).json()
        #expect(ours["format"] == expected["format"])
        let mine = try #require(ours["tensors"]?.arrayValue)
        let theirs = try #require(expected["tensors"]?.arrayValue)
        #expect(mine.count == theirs.count)
        for (a, b) in zip(mine, theirs) {
            for key in ["name", "dtype", "shape", "offset", "bytes", "file"] where b[key] != nil {
                #expect(a[key] == b[key], "\(reference): \(b["name"]?.stringValue ?? "?") \(key)")
            }
        }
        guard checkpoint.format == .gguf, let metadata = expected["metadata"]?.objectValue else {
            #expect(ours["metadata"] == expected["metadata"], "\(reference): __metadata__")
            return
        }
        let gguf = try #require(checkpoint.gguf)
        #expect(metadata["GGUF.version"]?.intValue == Int64(gguf.version))
        #expect(metadata["GGUF.tensor_count"]?.intValue == Int64(gguf.tensors.count))
        #expect(metadata["GGUF.kv_count"]?.intValue == Int64(gguf.metadata.count))
        for (key, value) in metadata where !key.hasPrefix("GGUF.") {
            let mineValue = try #require(ours["metadata"]?[key], "missing metadata \(key)")
            #expect(Self.equivalent(mineValue, value), "\(reference): metadata \(key): \(mineValue.serialized()) vs \(value.serialized())")
        }
    }

    /// Numbers compare by value (Python prints float32 values widened to
    /// double, as we do); non-finite floats are strings in the reference.
    static func equivalent(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { equivalent($0, $1) }
        case (.object(let x), .object(let y)):
            return y.keys.allSatisfy { key in x[key].map { equivalent($0, y[key]!) } ?? false }
        case (_, .string(let text)) where ["nan", "inf", "-inf"].contains(text.lowercased()):
            return a.doubleValue.map { "\($0)".lowercased() == text.lowercased() } ?? false
        default:
            if let x = a.doubleValue, let y = b.doubleValue { return x == y }
            return a == b
        }
    }

    @Test func statisticsMatchTheData() throws {
        let checkpoint = try Checkpoint(path: Fixtures.path("models/qwen2/model.safetensors"))
        let tensor = try #require(checkpoint.tensors.first { $0.name == "model.norm.weight" })
        let stats = try TensorStatistics(of: tensor)
        let values = try TensorExpression.stored(tensor).allValues()
        #expect(stats.minimum == values.min())
        #expect(stats.maximum == values.max())
        let mean = values.reduce(0.0) { $0 + Double($1) } / Double(values.count)
        // Accumulated in Double from the same F32 values: equal to rounding.
        #expect(abs(stats.mean - mean) < 1e-12)
        #expect(stats.nanCount == 0 && stats.infinityCount == 0)
    }

    /// `--filter` finds the same tensors whichever naming the glob uses and
    /// whichever format the file is, and the listing says it is filtered.
    @Test func filterMatchesEitherNamingAndSaysSo() throws {
        for path in [Fixtures.path("models/llama"), Fixtures.path("gguf/llama-f32.gguf")] {
            for glob in ["*.self_attn.q_proj.*", "blk.*.attn_q.*"] {
                let document = try JSONValue.parse(Array(try CLI.succeed(["inspect", path, "--filter", glob, "--json"]).output.utf8))
                let names = try #require(document["tensors"]?.arrayValue).compactMap { $0["name"]?.stringValue }
                let expected = path.hasSuffix(".gguf") ? ["blk.0.attn_q.weight", "blk.1.attn_q.weight"]
                    : ["model.layers.0.self_attn.q_proj.weight", "model.layers.1.self_attn.q_proj.weight"]
                #expect(names == expected, "\(path) \(glob)")
                let total = try Checkpoint(path: path).tensors.count
                #expect(document["filter"] == .object(["glob": .string(glob), "listed": .int(2), "tensors": .int(Int64(total))]))
            }
        }
        let text = try CLI.succeed(["inspect", Fixtures.path("models/llama"), "--filter", "blk.0.*"])
        #expect(text.output.hasPrefix(Fixtures.path("models/llama") + ": safetensors, 9 of 21 tensors (--filter 'blk.0.*'), "), "\(text.output)")
        let none = try CLI.succeed(["inspect", Fixtures.path("models/llama"), "--filter", "nothing*"])
        #expect(none.errorOutput.contains("warning: --filter 'nothing*' matches no tensor"), "\(none.errorOutput)")
    }

    @Test(arguments: ["models/qwen3-sharded", "gguf/llama-q4_k.gguf", "gguf/gguf-py-all-types.gguf"])
    func commandRunsInEveryMode(path: String) throws {
        for flags in [[], ["--json"], ["--stats"], ["--json", "--stats", "--filter", "*norm*"]] {
            let outcome = try CLI.succeed(["inspect", Fixtures.path(path)] + flags)
            if flags.contains("--json") {
                // one JSON document: parsing fails on anything else
                _ = try JSONValue.parse(Array(outcome.output.utf8))
            }
        }
    }
}
