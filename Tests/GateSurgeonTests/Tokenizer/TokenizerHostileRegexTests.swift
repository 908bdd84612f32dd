@testable import GateSurgeon
import JSON
import Platform
import Testing

/// Regexes that backtrack catastrophically end in a one-line error naming the pattern, where
/// HF tokenizers (Oniguruma's retry limit) fails too; everywhere HF gives ids, the same ids
/// (fixtures/tokenizers/hostile, fixtures/gen/hostile_tokenizers.py). The bound is a step
/// budget (`ScalarRegex.Budget`): the tests assert the steps, not the time.
@Suite struct TokenizerHostileRegexTests {
    struct Case: Sendable {
        var name: String
        var document: JSONValue
    }

    static let cases = FixtureArgument.list("fixtures/tokenizers/hostile/expected.json", describe: { $0.name }) {
        try #require(try Fixtures.json("tokenizers/hostile/expected.json")["cases"]?.arrayValue).map { document in
            Case(name: document["tokenizer"]?.stringValue ?? "?", document: document)
        }
    }

    static func path(_ name: String) -> String { Fixtures.path("tokenizers/hostile/\(name)/tokenizer.json") }

    static func scalars(_ text: String) -> [UInt32] { text.unicodeScalars.map(\.value) }

    /// `error` is the budget's one-line error about `pattern` in `path`.
    static func expectBudgetError(_ error: TokenizerError, pattern: String, path: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let text = error.description
        #expect(text.hasPrefix(path + ": ") && text.contains("regex \"\(pattern)\" backtracks without end"), "\(text)", sourceLocation: sourceLocation)
        #expect(!text.contains("\n"), sourceLocation: sourceLocation)
    }

    @Test(arguments: cases)
    func hostileTokenizersFailWhereHFFails(_ argument: FixtureArgument<Case>) throws {
        let testCase = try argument.value()
        let reference = testCase.document
        let pattern = try #require(reference["pattern"]?.stringValue)
        let path = Self.path(testCase.name)
        let bytes = try Paths.readFile(path)
        if let loadError = reference["load_error"]?.stringValue {
            #expect(loadError.contains("retry-limit"))
            let error = try #require(throws: TokenizerError.self) { _ = try Tokenizer(tokenizerJSON: bytes, path: path) }
            #expect(error.description.hasPrefix(path + ": added_tokens: ") && error.description.contains("regex \"\(pattern)\" backtracks"), "\(error)")
            return
        }
        let tokenizer = try Tokenizer(tokenizerJSON: bytes, path: path)
        let encodes = try #require(reference["encode"]?.arrayValue)
        let decodes = try #require(reference["decode"]?.arrayValue)
        #expect(encodes.count == 6 && decodes.count == 3)
        for entry in encodes {
            let text = try #require(entry["text"]?.stringValue)
            if entry["error"] != nil {
                let error = try #require(throws: TokenizerError.self) { _ = try tokenizer.encode(text, addSpecialTokens: false) }
                Self.expectBudgetError(error, pattern: pattern, path: path)
            } else {
                #expect(try tokenizer.encode(text, addSpecialTokens: false) == TokenizerFixtures.ints(entry["ids"]), "\(text)")
            }
        }
        for entry in decodes {
            let ids = TokenizerFixtures.ints(entry["ids"])
            if entry["error"] != nil {
                let error = try #require(throws: TokenizerError.self) { _ = try tokenizer.decode(ids) }
                Self.expectBudgetError(error, pattern: pattern, path: path)
            } else {
                #expect(try tokenizer.decode(ids) == entry["text"]?.stringValue, "\(ids)")
            }
        }
    }

    /// The inputs stop at the budget for their length, not after 2^40 steps.
    @Test(arguments: ["(a+)+$", "(a|aa)+$", "(a|a)*b"])
    func backtrackingStopsAtTheBudget(pattern: String) throws {
        let regex = try ScalarRegex(pattern)
        let text = Self.scalars(String(repeating: "a", count: 40) + "!b")
        var budget = ScalarRegex.Budget(textLength: text.count)
        #expect(budget.limit == 1_000_000 + 1_000 * 42)
        let error = try #require(throws: ScalarRegex.MatchLimitExceeded.self) { _ = try regex.matches(in: text, budget: &budget) }
        #expect(error == ScalarRegex.MatchLimitExceeded(pattern: pattern, steps: budget.limit, length: 42))
        // The executor stopped within one step of the limit (a class scan may overshoot by its length).
        #expect(budget.stepsLeft < 0 && budget.stepsLeft >= -text.count)
    }

    /// No match can start after the last `b` of `(a|a)*b`: text without one costs no search
    /// at all (Oniguruma skips it too, so HF tokenizes it), text with one is searched.
    @Test func aMissingRequiredScalarSkipsTheSearch() throws {
        let regex = try ScalarRegex("(a|a)*b")
        #expect(regex.requiredScalars == [0x62])  // b
        var budget = ScalarRegex.Budget(textLength: 41)
        #expect(try regex.matches(in: Self.scalars(String(repeating: "a", count: 40) + "!"), budget: &budget).isEmpty)
        #expect(budget.used == 0)
        #expect(try regex.matches(in: Self.scalars("xaab ab b")) == [1..<4, 5..<7, 8..<9])
        // Alternatives that need different scalars require none; optional parts require nothing.
        #expect(try ScalarRegex("a|b").requiredScalars.isEmpty)
        #expect(try ScalarRegex("x?y(?=z)(?!w)").requiredScalars == [0x79, 0x7A])  // y, z
    }

    /// Quantifiers stacked without a group (`a*****...`) nest as deep as there are of them;
    /// more than four are refused before anything recurses on them.
    @Test func stackedQuantifiersAreRefused() throws {
        _ = try ScalarRegex("a*?")
        for count in [5, 100_000] {
            let pattern = "a" + String(repeating: "*", count: count)
            let error = try #require(throws: ScalarRegex.CompileError.self) { _ = try ScalarRegex(pattern) }
            #expect(error.problem == "more than 4 quantifiers in a row")
        }
    }

    /// Every regex the fixture tokenizers use (tokenizer.json pipelines, GPT-2's ByteLevel
    /// regex, llama.cpp's pre-tokenizers as std::regex runs them) takes less than a tenth of
    /// the budget on the corpus and on long runs of one kind of character (the worst case of
    /// a class scanned and given back one by one), so the budget never changes a tokenization.
    @Test func realPatternsStayFarBelowTheBudget() throws {
        var regexes: [(ScalarRegex, collapsed: Bool)] = [(PreTokenizer.gpt2Regex, false)]
        func collect(_ value: JSONValue) throws {
            switch value {
            case .object(let object):
                if let source = object["Regex"]?.stringValue { regexes.append((try ScalarRegex(source), false)) }
                for (_, member) in object { try collect(member) }
            case .array(let items):
                for item in items { try collect(item) }
            default:
                break
            }
        }
        for name in TokenizerFixtures.names { try collect(try Fixtures.json("tokenizers/\(name)/tokenizer.json")) }
        for type in LlamaVocabulary.preTokenizerRegexes.keys.sorted() {
            let steps: [LlamaVocabulary.PreStep]
            do {
                steps = try LlamaVocabulary.preSteps(type: type, path: type)
            } catch {
                // the types gatesurgeon refuses (Kimi-K2's custom split, regexes llama.cpp refuses)
                guard case .unsupported = error else { throw error }
                continue
            }
            for case .regex(let regex, let collapsed) in steps { regexes.append((regex, collapsed)) }
        }
        #expect(regexes.count > 20, "\(regexes.count) regexes")
        let runs = [" ", "\n", "\r\n", "1", "!", "a", "'s", "é", "日", " a", "\t\u{3000}"].map { String(repeating: $0, count: 3000) + "x" }
        var worst = (ratio: 0.0, pattern: "", text: 0)
        for text in TokenizerFixtures.corpus + runs {
            let scalars = Self.scalars(text)
            for (regex, collapsed) in regexes {
                var budget = ScalarRegex.Budget(textLength: scalars.count)
                _ = try regex.matches(in: collapsed ? scalars.map(LlamaVocabulary.collapsed) : scalars, budget: &budget)
                #expect(budget.used * 10 <= budget.limit, "\(regex.pattern) took \(budget.used) of \(budget.limit) steps on \(scalars.count) scalars")
                // steps per scalar, on texts long enough for the allowance not to matter
                let ratio = Double(budget.used) / Double(scalars.count)
                if scalars.count >= 1000 && ratio > worst.ratio { worst = (ratio, regex.pattern, scalars.count) }
            }
        }
        // A few steps per scalar on long texts.
        #expect(worst.ratio > 0 && worst.ratio < Double(ScalarRegex.Budget.stepsPerScalar) / 10, "\(worst)")
    }
}
