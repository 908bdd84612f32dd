@testable import GateSurgeon
import JSON
import Testing

/// The Unicode tables against fixtures/tokenizers/unicode.json: what HF `tokenizers` 0.23.3
/// answered for every code point (Oniguruma classes, Rust predicates, lowercase, NFD/NFKD/NFC/NFKC)
/// and llama.cpp's unicode-data.cpp.
@Suite struct TokenizerUnicodeTests {
    static let probe: JSONValue = try! Fixtures.json("tokenizers/unicode.json")

    /// Independent of the library's reader: `a-b,c` hex ranges.
    static func codePoints(_ text: String?) -> Set<UInt32> {
        var result = Set<UInt32>()
        for item in (text ?? "").split(separator: ",") {
            let bounds = item.split(separator: "-").map { UInt32($0, radix: 16)! }
            for c in bounds[0]...(bounds.count > 1 ? bounds[1] : bounds[0]) { result.insert(c) }
        }
        return result
    }

    static func map(_ text: String?) -> [UInt32: [UInt32]] {
        var result: [UInt32: [UInt32]] = [:]
        for item in (text ?? "").split(separator: ",") {
            let sides = item.split(separator: ":", omittingEmptySubsequences: false)
            result[UInt32(sides[0], radix: 16)!] = sides[1].split(separator: " ").map { UInt32($0, radix: 16)! }
        }
        return result
    }

    /// Independent of the library's reader: calls `body` for each code point of `a-b,c` hex ranges.
    static func forEach(_ text: String?, _ body: (Int) -> Void) {
        for item in (text ?? "").split(separator: ",") {
            let bounds = item.split(separator: "-").map { Int($0, radix: 16)! }
            for c in bounds[0]...(bounds.count > 1 ? bounds[1] : bounds[0]) { body(c) }
        }
    }

    @Test func onigurumaAndRustClassesForEveryCodePoint() {
        let onig = Self.probe["onig"]!
        let rust = Self.probe["rust"]!
        var expected = [UInt16](repeating: UnicodeTables.unassignedCategory, count: 0x110000)
        for (index, name) in UnicodeTables.categoryNames.enumerated() where name != "Cn" {
            Self.forEach(onig[name]?.stringValue) { expected[$0] = UInt16(index) }
        }
        let flags: [(String?, UnicodeTables.Property)] = [
            (onig["s"]?.stringValue, .onigurumaSpace), (onig["w"]?.stringValue, .onigurumaWord), (onig["d"]?.stringValue, .onigurumaDigit),
            (rust["is_whitespace"]?.stringValue, .rustWhitespace), (rust["is_numeric"]?.stringValue, .rustNumeric),
            (rust["is_punctuation"]?.stringValue, .rustPunctuation), (rust["regex_w"]?.stringValue, .rustRegexWord),
            (rust["regex_s"]?.stringValue, .rustRegexSpace),
        ]
        for (text, bit) in flags { Self.forEach(text) { expected[$0] |= bit.rawValue } }
        var wrong = 0
        for c in 0..<0x110000 where !(0xD800..<0xE000).contains(c) && UnicodeTables.hfProperties[UInt32(c)] != expected[c] {
            wrong += 1
        }
        #expect(wrong == 0, "\(wrong) code points differ from what tokenizers reported")
        #expect(UnicodeTables.rustLowercase == Self.map(rust["lowercase"]?.stringValue))
    }

    @Test(arguments: [UnicodeNormalization.Form.nfd, .nfkd, .nfc, .nfkc])
    func normalizationOfEveryChangedCodePoint(form: UnicodeNormalization.Form) {
        let name = ["nfd", "nfkd", "nfc", "nfkc"][[UnicodeNormalization.Form.nfd, .nfkd, .nfc, .nfkc].firstIndex(of: form)!]
        let expected = Self.map(Self.probe["normalization"]?[name]?.stringValue)
        var checked = Set(expected.keys)
        // and every 7th other code point (identity), marks included
        for c in stride(from: UInt32(0), to: 0x110000, by: 7) where !(0xD800..<0xE000).contains(c) && !(0xAC00...0xD7A3).contains(c) {
            checked.insert(c)
        }
        var wrong: [UInt32] = []
        for c in checked where UnicodeNormalization.normalize([c], form) != (expected[c] ?? [c]) { wrong.append(c) }
        #expect(wrong.isEmpty, "\(name): \(wrong.count) code points differ, first \(wrong.sorted().prefix(8).map { String($0, radix: 16) })")
        let sequences = Self.probe["sequences"]!
        let texts = sequences["texts"]!.arrayValue!.map { $0.stringValue! }
        let results = sequences[name]!.arrayValue!.map { $0.stringValue! }
        var sequenceErrors = 0
        for (text, result) in Fixtures.pairs(texts, results) where UnicodeNormalization.normalize(Array(scalarsOf: text), form) != Array(scalarsOf: result) {
            sequenceErrors += 1
        }
        #expect(sequenceErrors == 0, "\(name): \(sequenceErrors) of \(texts.count) mark sequences differ")
    }

    @Test func llamaCppTables() {
        let llama = Self.probe["llamacpp"]!
        var starts: [(UInt32, UInt16)] = []
        for item in llama["flags"]!.stringValue!.split(separator: ",") {
            let sides = item.split(separator: ":")
            starts.append((UInt32(sides[0], radix: 16)!, UInt16(sides[1], radix: 16)!))
        }
        let whitespace = Self.codePoints(llama["whitespace"]?.stringValue)
        var wrong = 0
        for (index, (start, value)) in starts.enumerated() where start < 0x110000 {
            let end = index + 1 < starts.count ? min(starts[index + 1].0, 0x110000) : 0x110000
            for c in stride(from: start, to: end, by: 1) {
                let expected = value | (whitespace.contains(c) ? 0x100 : 0)
                if UnicodeTables.llamaFlags[c] != expected { wrong += 1 }
            }
        }
        #expect(wrong == 0)
    }
}

/// llama.cpp's pre-tokenizer table (generated Swift) against the generator's reading of
/// src/llama-vocab.cpp (fixtures/tokenizers/llama-pre-tokenizers.json).
@Suite struct TokenizerLlamaTableTests {
    @Test func preTokenizerTableIsLlamaCpps() throws {
        let table = try Fixtures.json("tokenizers/llama-pre-tokenizers.json")
        let names = try #require(table["names"]?.objectValue)
        #expect(names.count == LlamaVocabulary.preTokenizerNames.count)
        for (name, settings) in names {
            let ours = try #require(LlamaVocabulary.preTokenizerNames[name], "\(name)")
            #expect(ours.type == settings["type"]?.stringValue, "\(name)")
            #expect(ours.ignoreMerges == settings["ignore_merges"]?.boolValue, "\(name)")
            #expect(ours.addBOS == settings["add_bos"]?.boolValue, "\(name)")
            #expect(ours.cleanSpaces == settings["clean_spaces"]?.boolValue, "\(name)")
            #expect(ours.noBOS == (settings["no_bos"]?.boolValue ?? false), "\(name)")
        }
        let regexes = try #require(table["regexes"]?.objectValue)
        #expect(regexes.count == LlamaVocabulary.preTokenizerRegexes.count)
        for (type, list) in regexes {
            let ours = LlamaVocabulary.preTokenizerRegexes[type] ?? []
            let expected = (list.arrayValue ?? []).map { $0.stringValue ?? "" }
            // byte for byte: Swift's == would equate canonically equivalent regexes
            #expect(ours.map { Array($0.utf8) } == expected.map { Array($0.utf8) }, "\(type)")
        }
    }
}
