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
    /// type = 3), skipping other fields.
    static func parse(_ bytes: [UInt8], path: String) throws -> [Piece] {
        var reader = ProtobufReader(bytes: bytes, path: path)
        var pieces: [Piece] = []
        while !reader.isAtEnd {
            let (field, wireType) = try reader.readTag()
            if field == 1 && wireType == 2 {
                var message = ProtobufReader(bytes: Array(try reader.readLengthDelimited()), path: path)
                var piece = Piece(text: "", score: 0, type: .normal)
                while !message.isAtEnd {
                    let (inner, innerWire) = try message.readTag()
                    switch (inner, innerWire) {
                    case (1, 2): piece.text = String(decoding: try message.readLengthDelimited(), as: UTF8.self)
                    case (2, 5): piece.score = Float(bitPattern: try message.readFixed32())
                    case (3, 0): piece.type = PieceType(rawValue: Int32(truncatingIfNeeded: try message.readVarint())) ?? .normal
                    default: try message.skip(wireType: innerWire)
                    }
                }
                pieces.append(piece)
            } else {
                try reader.skip(wireType: wireType)
            }
        }
        return pieces
    }
}

/// Why a protobuf file (tokenizer.model) could not be read.
public struct ProtobufError: Error, CustomStringConvertible {
    public var path: String
    public var offset: Int
    public var problem: String
    public var description: String { "\(path): \(problem) at byte \(offset)" }
}

/// The protobuf wire format, just enough for SentencePiece models.
struct ProtobufReader {
    let bytes: [UInt8]
    let path: String
    var offset = 0

    init(bytes: [UInt8], path: String) {
        self.bytes = bytes
        self.path = path
    }

    var isAtEnd: Bool { offset >= bytes.count }

    private func failure(_ problem: String) -> ProtobufError { ProtobufError(path: path, offset: offset, problem: problem) }

    mutating func readVarint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count else { throw failure("truncated varint") }
            guard shift < 64 else { throw failure("varint longer than 10 bytes") }
            let byte = bytes[offset]
            offset += 1
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    mutating func readTag() throws -> (field: UInt64, wireType: UInt64) {
        let tag = try readVarint()
        return (tag >> 3, tag & 7)
    }

    mutating func readLengthDelimited() throws -> ArraySlice<UInt8> {
        let length = try readVarint()
        guard length <= UInt64(bytes.count - offset) else { throw failure("length \(length) runs past the end") }
        let slice = bytes[offset..<(offset + Int(length))]
        offset += Int(length)
        return slice
    }

    mutating func readFixed32() throws -> UInt32 {
        guard bytes.count - offset >= 4 else { throw failure("truncated 32-bit value") }
        let value = UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
        offset += 4
        return value
    }

    mutating func skip(wireType: UInt64) throws {
        switch wireType {
        case 0: _ = try readVarint()
        case 1:
            guard bytes.count - offset >= 8 else { throw failure("truncated 64-bit value") }
            offset += 8
        case 2: _ = try readLengthDelimited()
        case 5: _ = try readFixed32()
        default: throw failure("unsupported wire type \(wireType)")
        }
    }
}
