import GateSurgeon
import JSON
import Testing

/// The fixtures generator's step `compat` loaded gatesurgeon's GGUF files of
/// the bundled models in llama.cpp (fixtures/reference/compat/summary.json:
/// every file loaded, tokenized like the converter's, held the peer tools'
/// tensors and computed their logits). These tests make the same files with
/// today's code and require the same bytes, so what the suite produces is
/// what llama.cpp was shown to run; a deliberate change of the output means
/// rerunning that step. Each file's tensors must also be the peer tool's
/// (the converter's for float types, llama-quantize's otherwise): the
/// fixture records a digest of the peer's tensors, not of gatesurgeon's.
@Suite struct CompatibilityTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var model: String
        var type: String
        var options: [String]
        var sha256: String
        /// SHA-256 over the peer's `name\ttype\tSHA-256 of the data\n` lines, sorted by name.
        var peerTensorDigest: String
        var testDescription: String { "\(model) \(type)" }
    }

    static let cases = FixtureArgument.list("fixtures/reference/compat/summary.json models", describe: \.testDescription) {
        let models = try #require(try Fixtures.json("reference/compat/summary.json")["models"]?.objectValue)
        var cases: [Case] = []
        for (model, types) in models {
            for (type, entry) in types.objectValue ?? [:] {
                // "gatesurgeon convert MODEL OUT.gguf OPTIONS..."
                let words = (entry["command"]?.stringValue ?? "").split(separator: " ").map(String.init)
                cases.append(Case(model: model, type: type, options: Array(words.dropFirst(4)), sha256: entry["sha256"]?.stringValue ?? "",
                                  peerTensorDigest: entry["peer_tensor_digest"]?.stringValue ?? ""))
            }
        }
        return cases
    }

    @Test func everyBundledModelWasChecked() throws {
        let cases = try Self.cases.map { try $0.value() }
        #expect(Set(cases.map(\.model)) == ["llama", "mistral", "qwen2", "qwen3", "qwen3-sharded", "qwen3_moe", "mixtral", "qwen2_moe"])
        #expect(cases.count == 8 * 10)
    }

    @Test(arguments: cases)
    func writesTheBytesLlamaCppRan(_ argument: FixtureArgument<Case>) throws {
        let testCase = try argument.value()
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let output = Paths.join(directory, "\(testCase.model)-\(testCase.type).gguf")
        try CLI.succeed(["convert", Fixtures.path("models/\(testCase.model)"), output, "--quiet"] + testCase.options)
        #expect(SHA256.hexDigest(try Paths.readFile(output)) == testCase.sha256)
        #expect(try Self.tensorDigest(output) == testCase.peerTensorDigest, "the tensors differ from the peer tool's")
    }

    /// The digest fixtures/gen/compat.py's `peer_tensor_digest` computes.
    static func tensorDigest(_ path: String) throws -> String {
        let lines = try GGUFFile(path: path).tensors.map { tensor in
            "\(tensor.name)\t\(tensor.dtype.name)\t\(tensor.withBytes { SHA256.hexDigest(Array($0)) })\n"
        }
        return SHA256.hexDigest(Array(lines.sorted().joined().utf8))
    }
}
