import JSON
import Testing

@Suite struct JSONTests {
    @Test func parsesEveryKindAndKeepsMemberOrder() throws {
        let value = try JSONValue.parse(#"{"z": 1, "a": [true, null, 2.5, "x\u00e9"], "m": {"k": -3}}"#)
        let object = try #require(value.objectValue)
        #expect(object.keys == ["z", "a", "m"])
        #expect(value["z"] == .int(1))
        #expect(value["a"] == .array([.bool(true), .null, .double(2.5), .string("xé")]))
        #expect(value["m"]?["k"]?.intValue == -3)
    }

    /// Names are compared code point for code point, as JSON (and json-c,
    /// Python, serde) compare them: canonically equivalent names stay two
    /// members, and removing one keeps the other.
    @Test func canonicallyEquivalentNamesAreDistinct() throws {
        let composed = "\u{09DF}", decomposed = "\u{09AF}\u{09BC}"
        var object = try #require(try JSONValue.parse(#"{"\#(composed)": 1, "\#(decomposed)": 2}"#).objectValue)
        #expect(object.count == 2)
        #expect(object[composed] == .int(1) && object[decomposed] == .int(2))
        object[composed] = nil
        #expect(object.count == 1 && object[composed] == nil && object[decomposed] == .int(2))
        #expect(Array(object.keys[0].unicodeScalars) == Array(decomposed.unicodeScalars))
    }

    @Test func compactSerializationMatchesSerde() throws {
        // The exact header bytes the safetensors crate writes for this tensor.
        let value: JSONValue = .object(["attn.0": .object(["dtype": .string("F32"), "shape": .array([.int(1), .int(2), .int(3)]), "data_offsets": .array([.int(0), .int(24)])])])
        #expect(value.serialized(.compact) == #"{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}"#)
    }

    @Test func doublesUseTheShortestRoundTripText() {
        #expect(JSONValue.double(1e-06).serialized() == "1e-06")
        #expect(JSONValue.double(10000).serialized() == "10000.0")
        #expect(JSONValue.double(0.02).serialized() == "0.02")
    }

    @Test(arguments: [
        ("{\"a\": 1", "ends early"),
        ("{\"a\": 1} x", "at byte 9"),
        ("{\"a\": 1, \"a\": 2}", "duplicate key"),
        ("[1, 2,]", "invalid JSON"),
        ("{\"a\": \"\u{FFFD}\"}", ""),
    ])
    func rejectsMalformedText(text: String, reason: String) throws {
        if reason.isEmpty {
            _ = try JSONValue.parse(Array(text.utf8), rejectingDuplicateKeys: true)
            return
        }
        let error = try #require(throws: JSONError.self) {
            try JSONValue.parse(Array(text.utf8), rejectingDuplicateKeys: true)
        }
        #expect(error.description.contains(reason))
    }

    @Test func rejectsInvalidUTF8AndDeepNesting() {
        #expect(throws: JSONError.self) { try JSONValue.parse([0x22, 0xFF, 0xFE, 0x22]) }
        let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(throws: JSONError.self) { try JSONValue.parse(deep) }
    }

    /// What json-c accepts but RFC 8259 and serde_json refuse, or what
    /// json-c cannot represent, is an error at its byte offset.
    @Test(arguments: [
        ("{\"a\u{1}b\": 1}", "raw control character U+0001", 3),
        ("{\"a\": \"x\ty\"}", "raw control character U+0009", 8),
        ("[\"\u{0}\"]", "raw control character U+0000", 2),
        (#"{"a": 1, "\u0061": 2}"#, #"duplicate key "a" (written "\u0061")"#, 9),
        (#"{"x": {"\n": 1, "\u000a": 2}}"#, "duplicate key", 16),
        (#"{"a\u0000b": 1}"#, "object key contains U+0000", 1),
        (#"{"a": "\ud800"}"#, "lone surrogate", 7),
        (#"{"a": "\udc00\ud800"}"#, "lone surrogate", 7),
        (#"{"\ud800x": 1}"#, "lone surrogate", 2),
    ])
    func refusesWhatJSONCLetsThrough(text: String, reason: String, offset: Int) throws {
        let error = try #require(throws: JSONError.self) {
            try JSONValue.parse(Array(text.utf8), rejectingDuplicateKeys: true)
        }
        #expect(error.reason.contains(reason), "\(error)")
        #expect(error.offset == offset, "\(error)")
    }

    @Test func escapesDecodeAndKeysGetOffsets() throws {
        let text = #"{"\ud83d\ude00": "\u00e9\n", "b\\": [{"k": 1}, {"k": 2}], "c": {}}"#
        let document = try Array(text.utf8).withUnsafeBytes { try JSONValue.parseDocument($0, rejectingDuplicateKeys: true) }
        #expect(document.value["😀"] == .string("é\n"))
        #expect(document.memberOffsets == ["😀": 1, "b\\": 29, "c": 58])
        // Equal keys in different objects are not duplicates.
        #expect(document.value["b\\"]?.arrayValue?.count == 2)
    }

    @Test func trailingWhitespaceIsPadding() throws {
        #expect(try JSONValue.parse(Array("{}    \n".utf8)) == .object([:]))
    }
}
