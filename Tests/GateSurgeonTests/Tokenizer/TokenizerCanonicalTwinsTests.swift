import GateSurgeon
import JSON
import Testing

/// A vocabulary whose tokens differ only by Unicode normalization (U+09DF and U+09AF U+09BC,
/// U+00C5, U+212B and A + U+030A, both forms of é, the Ohm sign as an added token beside Greek
/// Omega), as real vocabularies have them (Gemma 3's): each form is its own token, encoded and
/// decoded as HF tokenizers does (fixtures/tokenizers/canonical-twins, step `hostile-tokenizers`).
/// Texts are compared by their code points, since Swift's `==` on strings would call the twins equal.
@Suite struct TokenizerCanonicalTwinsTests {
    static let directory = "tokenizers/canonical-twins"

    static func scalars(_ text: String?) -> [UInt32] { (text ?? "").unicodeScalars.map(\.value) }

    @Test func everyTwinIsItsOwnToken() throws {
        let path = Fixtures.path("\(Self.directory)/tokenizer.json")
        let tokenizer = try Tokenizer(tokenizerJSON: try Paths.readFile(path), path: path)
        let expected = try Fixtures.json("\(Self.directory)/expected.json")
        let encodes = try #require(expected["encode"]?.arrayValue)
        let decodes = try #require(expected["decode"]?.arrayValue)
        #expect(encodes.count == 6 && decodes.count == 18)
        for entry in encodes {
            let text = try #require(entry["text"]?.stringValue)
            #expect(try tokenizer.encode(text, addSpecialTokens: false) == TokenizerFixtures.ints(entry["ids"]), "\(Self.scalars(text))")
        }
        for entry in decodes {
            let ids = TokenizerFixtures.ints(entry["ids"])
            #expect(Self.scalars(try tokenizer.decode(ids)) == Self.scalars(entry["text"]?.stringValue), "\(ids)")
        }
    }
}
