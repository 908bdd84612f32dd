import GateSurgeon
import Testing

/// The published Gemma 3 270M Q4_K_M (fetched by fixtures/gen/real.py into
/// fixtures/.work, 253 MB, not committed) against what transformers computed
/// on it (reference/real/gemma3-270m.json, step `gemma-real`): the prompt
/// tokenized as llama.cpp and transformers tokenize it, and per position the
/// same top-5 tokens with logits within 1e-4 of the largest logit (the
/// generator holds gatesurgeon to the same bound when it records the file).
/// Where the model file is absent (a clean clone) the suite is skipped; the
/// generator's assertions still cover it.
@Suite struct PublishedGemmaTests {
    static let path = Fixtures.path(".work/real/gemma-3-270m-q4_k_m.gguf")

    @Test(.enabled(if: Paths.exists(path)), arguments: ["prompt_run", "token_ids_run"])
    func topTokensAreTransformers(run: String) throws {
        let reference = try Fixtures.json("reference/real/gemma3-270m.json")
        let graph = try ModelGraph(checkpoint: Checkpoint(path: Self.path))
        #expect(graph.config.architecture.family == .gemma3)
        var ids = try #require(reference[run]?["ids"]?.arrayValue).compactMap { $0.intValue.map(Int.init) }
        if run == "prompt_run" {
            let tokenizer = try #require(try Tokenizer(model: graph))
            let prompt = try #require(reference["prompt"]?.stringValue)
            ids = try tokenizer.encode(prompt, addSpecialTokens: true)
            #expect(ids == reference["llamacpp_prompt_ids"]?.arrayValue?.compactMap { $0.intValue.map(Int.init) })
        }
        let positions = try #require(reference[run]?["transformers"]?.arrayValue)
        try #require(positions.count == ids.count && !ids.isEmpty)
        let result = try ForwardPass(graph: graph).run(tokens: ids)
        for (position, expected) in positions.enumerated() {
            // [id, token text, logit] each.
            let top = try #require(expected["top"]?.arrayValue).compactMap(\.arrayValue)
            let row = Array(result.logits(at: position))
            let largest = Double(row.map(abs).max() ?? 0)
            let order = row.indices.sorted { row[$0] != row[$1] ? row[$0] > row[$1] : $0 < $1 }.prefix(top.count)
            #expect(Array(order) == top.compactMap { $0.first?.intValue.map(Int.init) }, "position \(position)")
            for entry in top {
                let id = try #require(entry.first?.intValue.map(Int.init)), logit = try #require(entry.last?.doubleValue)
                #expect(abs(Double(row[id]) - logit) < 1e-4 * largest, "position \(position), token \(id)")
            }
        }
    }
}
