import GateSurgeon
import JSON
import Testing

/// A GGUF converted to a model directory loads in transformers, which
/// checks config.json's field types (fixtures step `family-dirs`: strict
/// load, the original model's logits to 1e-4, for every family). The
/// directory gatesurgeon writes today has the config.json transformers loaded.
@Suite("GGUF to model directories transformers loads")
struct GGUFDirectoryTests {
    static let models = ["llama", "mistral", "qwen2", "qwen3", "qwen3_moe", "mixtral", "qwen2_moe", "gemma2", "gemma3", "phi3",
                         "phi3-longrope", "olmo2", "olmo3", "granite", "smollm3"]

    @Test func everyFamilyWasLoaded() throws {
        let recorded = try #require(try Fixtures.json("reference/compat/family-dirs.json").objectValue)
        #expect(Set(recorded.keys) == Set(Self.models))
    }

    @Test(arguments: models)
    func configIsTheOneTransformersLoaded(model: String) throws {
        let record = try #require(try Fixtures.json("reference/compat/family-dirs.json")[model]?.objectValue)
        #expect(try #require(record["max_abs_diff_to_transformers"]?.doubleValue) < 1e-4)
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let output = Paths.join(directory, model) + "/"
        try CLI.succeed(["convert", Fixtures.path("gguf/\(model)-f32.gguf"), output, "--quiet"])
        #expect(SHA256.hexDigest(try Paths.readFile(Paths.join(output, "config.json"))) == record["config_sha256"]?.stringValue)
    }
}
