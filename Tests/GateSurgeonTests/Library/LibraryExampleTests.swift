import GateSurgeon
import Testing

/// The README's "Use as a library" example, compiled and run on a fixture.
@Suite struct LibraryExampleTests {
    @Test func readmeExampleRuns() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let model = Fixtures.path("models/qwen3")
        let output = Paths.join(directory, "qwen3-gated/")
        // README example begin
        let graph = try ModelGraph(checkpoint: Checkpoint(path: model))
        let (gated, summary) = try GateInsertion(layout: .gatedAttention).apply(to: graph)
        try ModelWriter.write(gated, to: output)

        let written = try ModelGraph(checkpoint: Checkpoint(path: output))
        let check = try Verification.compare(graph, written, tokens: [1, 17, 42, 99])
        print(summary.gatedLayers, check.comparison.maxAbsDifference)  // [0, 1] 0.0
        // README example end
        #expect(summary.gatedLayers == [0, 1])
        #expect(check.comparison.maxAbsDifference == 0)
    }

    /// The README shows exactly the code above.
    @Test func readmeShowsTheTestedCode() throws {
        let source = String(decoding: try Paths.readFile(#filePath), as: UTF8.self)
        let readme = String(decoding: try Paths.readFile(Paths.join(Fixtures.root, "README.md")), as: UTF8.self)
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        let begin = try #require(lines.firstIndex { $0.hasSuffix("// README example begin") })
        let end = try #require(lines.firstIndex { $0.hasSuffix("// README example end") })
        let example = lines[(begin + 1)..<end].map { $0.dropFirst(8) }.joined(separator: "\n")
        #expect(readme.contains(example), "README's library example differs from LibraryExampleTests")
    }
}
