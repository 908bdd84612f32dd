import GateSurgeon
import Testing

/// The parsing layer (ParserSpan) and its writing counterpart (BinaryOutput).
@Suite struct ParsingTests {
    /// Integers of every width in both byte orders, against the byte layout
    /// the orders define (least significant byte first for little endian).
    @Test func readsIntegersInTheNamedByteOrder() throws {
        let bytes: [UInt8] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x88]
        try withParserSpan(over: bytes) { (input) throws(ParsingError) in
            var copy = input
            #expect(try copy.read(UInt16.self, endianness: .little) == 0x0201)
            #expect(try copy.read(UInt16.self, endianness: .big) == 0x0304)
            #expect(try copy.read(UInt32.self, endianness: .little) == 0x8807_0605)
            #expect(copy.isEmpty)
            copy = input
            #expect(try copy.read(UInt64.self, endianness: .little) == 0x8807_0605_0403_0201)
            copy = input
            #expect(try copy.read(UInt64.self, endianness: .big) == 0x0102_0304_0506_0788)
            copy = input
            #expect(try copy.read(Int64.self, endianness: .little) == Int64(bitPattern: 0x8807_0605_0403_0201))
            try copy.seek(toAbsolutePosition: 7)
            #expect(try copy.read(Int8.self) == -120)
        }
    }

    /// What BinaryOutput writes reads back as the same value, for every type.
    @Test func writerAndReaderAgree() throws {
        let output = ByteArrayOutput()
        for endianness in [Endianness.little, .big] {
            try output.write(UInt16(0xBEEF), endianness: endianness)
            try output.write(Int32(-123_456), endianness: endianness)
            try output.write(UInt64.max - 5, endianness: endianness)
            try output.write(Float(-1.5e-3), endianness: endianness)
            try output.write(Double.pi, endianness: endianness)
        }
        try output.writeLengthPrefixedUTF8("naïve", lengthType: UInt32.self, endianness: .little)
        try output.writeLEB128(300)
        try withParserSpan(over: output.bytes) { (input) throws(ParsingError) in
            for endianness in [Endianness.little, .big] {
                #expect(try input.read(UInt16.self, endianness: endianness) == 0xBEEF)
                #expect(try input.read(Int32.self, endianness: endianness) == -123_456)
                #expect(try input.read(UInt64.self, endianness: endianness) == UInt64.max - 5)
                #expect(try input.read(Float.self, endianness: endianness) == -1.5e-3)
                #expect(try input.read(Double.self, endianness: endianness) == .pi)
            }
            #expect(try input.readLengthPrefixedUTF8(lengthType: UInt32.self, endianness: .little) == "naïve")
            #expect(try input.readLEB128() == 300)
            #expect(input.isEmpty)
        }
    }

    /// A sliced sub-parser keeps the file's positions, and its errors name them.
    @Test func slicesKeepAbsolutePositions() throws {
        let bytes = [UInt8](repeating: 0xAA, count: 100)
        let error = try #require(throws: ParsingError.self) {
            try withParserSpan(over: bytes, source: "model.bin") { (input) throws(ParsingError) in
                try input.skip(byteCount: 10)
                var slice = try input.sliced(byteCount: 20)
                #expect(slice.startPosition == 10 && slice.endPosition == 30)
                #expect(input.startPosition == 30)
                try slice.skip(byteCount: 16)
                _ = try slice.read(UInt64.self, endianness: .little)
            }
        }
        #expect(error.location == 26)
        #expect(error.status == .insufficientData(needed: 8, end: 30))
        #expect(error.description == "model.bin: needs 8 bytes at byte 26, but the data ends at byte 30")
    }

    /// Counts and lengths from the input are checked before anything is
    /// read or allocated: huge, negative and overflowing requests are errors.
    @Test func hostileCountsAreErrors() throws {
        try withParserSpan(over: [UInt8](repeating: 0, count: 16)) { (input) throws(ParsingError) in
            #expect(throws: ParsingError.self) { try input.skip(byteCount: UInt64.max) }
            #expect(throws: ParsingError.self) { try input.skip(byteCount: -1) }
            #expect(throws: ParsingError.self) { try input.sliced(objectStride: 1 << 40, objectCount: UInt64(1) << 40) }
            #expect(throws: ParsingError.self) { try input.readBytes(byteCount: 17) }
            #expect(input.startPosition == 0, "a failed read does not move the span")
        }
        let error = try #require(throws: ParsingError.self) {
            try withParserSpan(over: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x61]) { (input) throws(ParsingError) in
                try input.readLengthPrefixedUTF8(lengthType: UInt64.self, endianness: .little)
            }
        }
        #expect(error.location == 0)
        #expect(error.status == .insufficientData(needed: 0x7FFF_FFFF_FFFF_FFFF, end: 9))
    }

    /// Varints as the protobuf encoding guide writes them (1, 150, 300,
    /// 2^64 - 1 in ten bytes); eleven bytes, or bits past 64, are errors.
    @Test(arguments: [
        ([0x01], UInt64(1)),
        ([0x96, 0x01], 150),
        ([0xAC, 0x02], 300),
        ([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], UInt64.max),
    ] as [([UInt8], UInt64)])
    func readsLEB128(bytes: [UInt8], value: UInt64) throws {
        #expect(try withParserSpan(over: bytes) { (input) throws(ParsingError) in try input.readLEB128() } == value)
        let output = ByteArrayOutput()
        try output.writeLEB128(value)
        #expect(output.bytes == bytes)
    }

    @Test func overlongVarintsAreErrors() {
        for bytes: [UInt8] in [[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02],
                               [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], [0x80]] {
            #expect(throws: ParsingError.self) { try withParserSpan(over: bytes) { (input) throws(ParsingError) in try input.readLEB128() } }
        }
        #expect(Int64(zigZag: 3) == -2 && Int64(zigZag: 4) == 2 && Int64(zigZag: UInt64.max) == Int64.min)
    }

    /// A protobuf reader is a few lines on the layer: the pieces and scores of
    /// the llama fixture's sentencepiece `tokenizer.model` equal what
    /// llama.cpp's converter (through the sentencepiece library) stored in
    /// llama-f32.gguf.
    @Test func protobufFieldsOfASentencepieceModel() throws {
        let model = try Fixtures.bytes(Fixtures.path("models/llama/tokenizer.model"))
        var pieces: [String] = []
        var scores: [Float] = []
        try withParserSpan(over: model, source: "tokenizer.model") { (input) throws(ParsingError) in
            while !input.isEmpty {
                let key = try input.readLEB128()
                switch (key >> 3, key & 7) {
                case (1, 2):
                    var piece = try input.slicedLEB128Prefixed()
                    var score: Float = 0
                    while !piece.isEmpty {
                        let field = try piece.readLEB128()
                        switch (field >> 3, field & 7) {
                        case (1, 2):
                            var text = try piece.slicedLEB128Prefixed()
                            pieces.append(try text.readUTF8(byteCount: text.count))
                        case (2, 5): score = try piece.read(Float.self, endianness: .little)
                        case (_, 0): _ = try piece.readLEB128()
                        default: throw piece.error(.invalidValue("unexpected wire type"))
                        }
                    }
                    scores.append(score)
                case (_, 0): _ = try input.readLEB128()
                case (_, 1): try input.skip(byteCount: 8)
                case (_, 2): _ = try input.slicedLEB128Prefixed()
                case (_, 5): try input.skip(byteCount: 4)
                default: throw input.error(.invalidValue("unknown wire type"))
                }
            }
        }
        let gguf = try GGUFFile(path: Fixtures.path("gguf/llama-f32.gguf"))
        let tokens = try #require(gguf.value("tokenizer.ggml.tokens")?.arrayValues).compactMap(\.stringValue)
        let reference = try #require(gguf.value("tokenizer.ggml.scores")?.arrayValues).compactMap(\.doubleValue).map(Float.init)
        #expect(pieces.count == 128)
        #expect(pieces == tokens)
        #expect(scores == reference)
    }

    /// The UTF-8 check agrees with the standard library's decoder on edge
    /// cases and on random bytes.
    @Test func utf8ValidationAgreesWithTheStandardLibrary() {
        var samples: [[UInt8]] = [
            [], Array("plain ascii, more than eight bytes".utf8), Array("é中𝄞".utf8),
            [0xC0, 0x80], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF0, 0x9F, 0x98],
            [0xC2], [0x80], [0xFF], [0xEF, 0xBF, 0xBF], [0xF4, 0x8F, 0xBF, 0xBF], Array("abcdefgh".utf8) + [0xE2, 0x82],
        ]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for length in 0..<2000 {
            var bytes: [UInt8] = []
            for _ in 0..<(length % 24) {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let byte = UInt8(truncatingIfNeeded: state >> 56)
                // Mostly valid-looking text, with lead and continuation bytes mixed in.
                bytes.append(length % 3 == 0 ? byte : (byte & 0x7F == 0x7F ? 0xE2 : byte & 0x7F))
            }
            samples.append(bytes)
        }
        for bytes in samples {
            let reference = String(validating: bytes, as: UTF8.self) != nil
            #expect(bytes.withUnsafeBytes { UTF8Validation.isValid($0) } == reference, "\(bytes)")
        }
    }

    @Test func checkedArithmeticReportsOverflow() {
        #expect(Int.max *? 2 == nil)
        #expect(3 *? 4 *? 5 == 60)
        #expect(Int.max +? 1 == nil)
        #expect(UInt64(5).roundedUp(toMultipleOf: 4) == 8)
        #expect(Int.max.roundedUp(toMultipleOf: 32) == nil)
        #expect(checkedElementCount([0, 1 << 40, 1 << 40]) == nil, "non-zero dimensions overflow")
        #expect(checkedElementCount([1 << 40, 1 << 20, 0]) == 0)
        #expect(checkedElementCount([-1, 0]) == nil)
    }
}
