import GateSurgeon
import GateSurgeonCommands
import JSON
import Testing

/// Model directories whose weights are fine but whose other files are not:
/// config.json, tokenizer.model, shapes that disagree with the config.
/// Each ends in a one-line error naming the file and the key or byte, and
/// leaves no output behind.
@Suite struct MalformedModelTests {
    /// A copy of fixtures/models/llama with `file` replaced by `contents`.
    static func corruptedLlama(_ file: String, _ contents: [UInt8]) throws -> String {
        let directory = Fixtures.temporaryDirectory()
        let model = Paths.join(directory, "model")
        try Fixtures.copyDirectory(from: Fixtures.path("models/llama"), to: model)
        let output = try OutputFile(creating: Paths.join(model, file))
        try output.write(contents)
        try output.close()
        return directory
    }

    static func configWith(_ edit: (inout JSONObject) -> Void) throws -> [UInt8] {
        var config = try #require(Fixtures.json("models/llama/config.json").objectValue)
        edit(&config)
        return Array(JSONValue.object(config).serialized().utf8)
    }

    static let configCases: [(String, @Sendable (inout JSONObject) -> Void, String)] = [
        ("not JSON", { _ in }, "not valid JSON"),
        ("missing hidden_size", { $0["hidden_size"] = nil }, "'hidden_size'"),
        ("zero heads", { $0["num_attention_heads"] = .int(0) }, "'num_attention_heads'"),
        ("kv heads not dividing", { $0["num_key_value_heads"] = .int(3) }, "'num_key_value_heads'"),
        ("unknown model type", { $0["model_type"] = .string("bert"); $0["architectures"] = .array([.string("BertModel")]) }, "architecture 'bert' is not one gatesurgeon models"),
        ("unsupported rope", { $0["rope_parameters"] = .object(["rope_type": .string("dynamic"), "rope_theta": .double(10000)]) }, "'dynamic' is not supported"),
        ("yarn without factor", { $0["rope_parameters"] = .object(["rope_type": .string("yarn"), "rope_theta": .double(10000)]) }, "yarn scaling needs factor"),
        ("shape disagrees", { $0["intermediate_size"] = .int(96) }, "has shape [64, 32], expected [96, 32]"),
        // Values a valid file carries that once indexed, allocated or looped unchecked.
        ("rotary factor above 1", { $0["partial_rotary_factor"] = .double(2.5) }, "'partial_rotary_factor': 2.5 is not in (0, 1]"),
        ("huge rotary factor", { $0["partial_rotary_factor"] = .double(1e300) }, "'partial_rotary_factor'"),
        ("huge head_dim", { $0["head_dim"] = .int(1 << 40) }, "'head_dim'"),
        ("huge head count", { $0["num_attention_heads"] = .int(1 << 62) }, "'num_attention_heads'"),
        ("huge context", { $0["max_position_embeddings"] = .int(1 << 62) }, "'max_position_embeddings'"),
        ("negative layers", { $0["num_hidden_layers"] = .int(-2) }, "'num_hidden_layers'"),
        ("rope factor not a number", { $0["rope_parameters"] = .object(["rope_type": .string("linear"), "factor": .string("big"), "rope_theta": .double(10000)]) }, "'rope_parameters.factor': not a finite number"),
        ("rope factor missing", { $0["rope_parameters"] = .object(["rope_type": .string("linear"), "rope_theta": .double(10000)]) }, "linear scaling needs factor"),
        ("zero rope theta", { $0["rope_parameters"] = .object(["rope_type": .string("default"), "rope_theta": .double(0)]) }, "rope_theta 0.0 must be a finite number above 1"),
        ("llama3 original context huge", { $0["rope_parameters"] = .object(["rope_type": .string("llama3"), "factor": .double(8), "original_max_position_embeddings": .int(1 << 62), "rope_theta": .double(10000)]) }, "original_max_position_embeddings': 4.611686018427388e+18 is out of range"),
    ]

    @Test(arguments: 0..<configCases.count)
    func malformedConfigIsRefused(index: Int) throws {
        let (name, edit, problem) = Self.configCases[index]
        let contents = name == "not JSON" ? Array("{\"hidden_size\": 32,".utf8) : try Self.configWith(edit)
        let directory = try Self.corruptedLlama("config.json", contents)
        defer { Fixtures.remove(directory) }
        let output = Paths.join(directory, "out.gguf")
        let outcome = CLI.run(["convert", Paths.join(directory, "model"), output])
        #expect(outcome.status == 2)
        let message = outcome.errorOutput
        #expect(message.hasPrefix("error: ") && message.hasSuffix("\n"))
        #expect(message.contains(problem), "\(name): \(message)")
        #expect(message.contains("model"), "\(name): \(message)")
        #expect(!message.dropLast().contains("\n"))
        #expect(!Paths.exists(output))
        #expect(Paths.entries(of: directory) == ["model"])
    }

    @Test func truncatedTokenizerModelIsRefused() throws {
        let original = try Fixtures.bytes(Fixtures.path("models/llama/tokenizer.model"))
        let directory = try Self.corruptedLlama("tokenizer.model", Array(original.prefix(original.count / 2)))
        defer { Fixtures.remove(directory) }
        let output = Paths.join(directory, "out.gguf")
        let outcome = CLI.run(["convert", Paths.join(directory, "model"), output])
        #expect(outcome.status == 2)
        #expect(outcome.errorOutput.contains("tokenizer.model"))
        #expect(outcome.errorOutput.contains("at byte"))
        #expect(Paths.entries(of: directory) == ["model"])
    }
}
