/// The pieces of a SentencePiece `tokenizer.model` (a ModelProto), as `SentencePieceProcessor`
/// reports them: text, score and type.
struct SentencePieceModel: Sendable {
    /// SentencePiece piece types (sentencepiece_model.proto `Type`).
    enum PieceType: Int32, Sendable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    struct Piece: Sendable {
        var text: String
        var score: Float
        var type: PieceType
    }

    var pieces: [Piece]

    init(path: String) throws {
        self.pieces = try Self.parse(try Paths.readFile(path), path: path)
    }

    /// Reads the pieces of a ModelProto (field 1, each a message of piece = 1, score = 2,
    /// type = 3), skipping other fields; every length is checked against the bytes left.
    static func parse(_ bytes: [UInt8], path: String) throws(ParsingError) -> [Piece] {
        try withParserSpan(over: bytes, source: path) { (input) throws(ParsingError) -> [Piece] in
            var pieces: [Piece] = []
            while !input.isEmpty {
                let (field, wireType) = try Self.readTag(&input)
                guard field == 1 && wireType == 2 else {
                    try Self.skip(&input, wireType: wireType)
                    continue
                }
                var message = try input.slicedLEB128Prefixed()
                var piece = Piece(text: "", score: 0, type: .normal)
                while !message.isEmpty {
                    let (inner, innerWire) = try Self.readTag(&message)
                    switch (inner, innerWire) {
                    case (1, 2): piece.text = try message.slicedLEB128Prefixed().withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
                    case (2, 5): piece.score = try message.read(Float.self, endianness: .little)
                    case (3, 0): piece.type = PieceType(rawValue: Int32(truncatingIfNeeded: try message.readLEB128())) ?? .normal
                    default: try Self.skip(&message, wireType: innerWire)
                    }
                }
                pieces.append(piece)
            }
            return pieces
        }
    }

    /// A protobuf field tag: field number and wire type.
    static func readTag(_ input: inout ParserSpan) throws(ParsingError) -> (field: UInt64, wireType: UInt64) {
        let tag = try input.readLEB128()
        return (tag >> 3, tag & 7)
    }

    /// Skips a field's value of the given wire type.
    static func skip(_ input: inout ParserSpan, wireType: UInt64) throws(ParsingError) {
        switch wireType {
        case 0: _ = try input.readLEB128()
        case 1: try input.skip(byteCount: 8)
        case 2: _ = try input.slicedLEB128Prefixed()
        case 5: try input.skip(byteCount: 4)
        default: throw input.error(.invalidValue("unsupported protobuf wire type \(wireType)"))
        }
    }
}
