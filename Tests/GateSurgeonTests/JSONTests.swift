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

    @Test func trailingWhitespaceIsPadding() throws {
        #expect(try JSONValue.parse(Array("{}    \n".utf8)) == .object([:]))
    }
}
