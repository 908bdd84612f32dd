import JSON

/// The `tokenizer.ggml.*` metadata llama.cpp needs, built from a model
/// directory's SentencePiece `tokenizer.model` the way convert_hf_to_gguf.py
/// does (`_set_vocab_sentencepiece` plus gguf-py's `SpecialVocab`).
enum TokenizerMetadata {
    /// SentencePiece piece types, which GGUF's token types reuse.
    enum TokenType: Int32 {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    struct Piece {
        var text: String
        var score: Float
        var type: TokenType
    }

    /// Tokenizer keys for the model in `directory`, or nil when it has no
    /// SentencePiece model (then the GGUF carries no tokenizer).
    static func metadata(directory: String, vocabSize: Int) throws -> Metadata<GGUFValue>? {
        let modelPath = Paths.join(directory, "tokenizer.model")
        guard Paths.exists(modelPath) else { return nil }
        let pieces = try parseSentencePieceModel(try Paths.readFile(modelPath), path: modelPath)
        let size = max(vocabSize, 1)
        var tokens: [GGUFValue] = (0..<size).map { .string("[PAD\($0)]") }
        var scores = [GGUFValue](repeating: .float32(-10000), count: size)
        var types = [GGUFValue](repeating: .int32(TokenType.unused.rawValue), count: size)
        for (id, piece) in pieces.enumerated() where id < size {
            tokens[id] = .string(piece.text)
            scores[id] = .float32(piece.score)
            types[id] = .int32(piece.type.rawValue)
        }
        var metadata: [(key: String, value: GGUFValue)] = [
            ("tokenizer.ggml.model", .string("llama")),
            ("tokenizer.ggml.pre", .string("default")),
            ("tokenizer.ggml.tokens", .array(elementType: .string, values: tokens)),
            ("tokenizer.ggml.scores", .array(elementType: .float32, values: scores)),
            ("tokenizer.ggml.token_type", .array(elementType: .int32, values: types)),
        ]
        metadata += specialTokens(directory: directory, pieces: pieces)
        return Metadata(metadata)
    }

    /// Special token ids and add-flags, as gguf-py's SpecialVocab derives
    /// them: ids from tokenizer_config.json's `*_token` names (looked up in
    /// tokenizer.json's added tokens), then config.json's `*_token_id`;
    /// add_bos/add_eos/add_sep from tokenizer.json's TemplateProcessing,
    /// else tokenizer_config.json's `add_*_token`.
    static func specialTokens(directory: String, pieces: [Piece]) -> [(key: String, value: GGUFValue)] {
        func load(_ name: String) -> JSONValue? {
            let path = Paths.join(directory, name)
            guard Paths.exists(path), let bytes = try? Paths.readFile(path) else { return nil }
            return try? JSONValue.parse(bytes)
        }
        let tokenizer = load("tokenizer.json")
        let tokenizerConfig = load("tokenizer_config.json")
        let config = load("config.json")
        let kinds = ["bos", "eos", "unk", "sep", "pad", "cls", "mask"]
        var ids: [(String, Int)] = []
        var flags: [(String, Bool)] = []
        func setFlag(_ kind: String, _ value: Bool, override: Bool) {
            if let index = flags.firstIndex(where: { $0.0 == kind }) {
                if override { flags[index].1 = value }
            } else {
                flags.append((kind, value))
            }
        }
        func tokenName(_ kind: String) -> String? {
            let entry = tokenizerConfig?["\(kind)_token"]
            return entry?.stringValue ?? entry?["content"]?.stringValue
        }
        if let processor = tokenizer?["post_processor"], processor["type"]?.stringValue == "TemplateProcessing" {
            let single = processor["single"]?.arrayValue ?? []
            if single.count > 1, let first = single.first?["SpecialToken"]?["id"]?.stringValue {
                setFlag("bos", first == tokenName("bos") || first == tokenName("cls"), override: true)
            }
            if single.count > 1, let last = single.last?["SpecialToken"]?["id"]?.stringValue {
                setFlag("eos", last == tokenName("eos"), override: true)
            }
            var pair = processor["pair"]?.arrayValue ?? []
            if let first = pair.first?["SpecialToken"]?["id"]?.stringValue, single.count > 1, first == single.first?["SpecialToken"]?["id"]?.stringValue {
                pair.removeFirst()
            }
            if pair.count > 2, pair.first?["Sequence"]?["id"]?.stringValue == "A", pair.last?["Sequence"]?["id"]?.stringValue == "B" {
                let middle = pair.dropFirst().dropLast()
                let separators = [tokenName("sep"), tokenName("eos")].compactMap { $0 }
                let addSeparator = middle.contains { entry in
                    entry["SpecialToken"]?["id"]?.stringValue.map(separators.contains) ?? false
                }
                setFlag("sep", addSeparator, override: true)
            }
        }
        let addedTokens = tokenizer?["added_tokens"]?.arrayValue ?? []
        for kind in kinds {
            if let flag = tokenizerConfig?["add_\(kind)_token"]?.boolValue { setFlag(kind, flag, override: false) }
            guard let name = tokenName(kind) else { continue }
            if let id = addedTokens.first(where: { $0["content"]?.stringValue == name })?["id"]?.intValue {
                ids.append((kind, Int(id)))
            } else if let id = pieces.firstIndex(where: { $0.text == name }) {
                ids.append((kind, id))
            }
        }
        for kind in kinds where !ids.contains(where: { $0.0 == kind }) {
            if let id = config?["\(kind)_token_id"]?.intValue, id >= 0 { ids.append((kind, Int(id))) }
        }
        let idKeys: [String: String] = ["bos": "bos_token_id", "eos": "eos_token_id", "unk": "unknown_token_id", "sep": "seperator_token_id",
                                        "pad": "padding_token_id", "cls": "cls_token_id", "mask": "mask_token_id"]
        return ids.map { ("tokenizer.ggml.\(idKeys[$0.0]!)", GGUFValue.uint32(UInt32($0.1))) }
            + flags.map { ("tokenizer.ggml.add_\($0.0)_token", GGUFValue.bool($0.1)) }
    }

    /// Reads the pieces of a SentencePiece ModelProto (field 1, each a
    /// message of piece = 1, score = 2, type = 3), skipping other fields.
    static func parseSentencePieceModel(_ bytes: [UInt8], path: String) throws -> [Piece] {
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
                    case (3, 0): piece.type = TokenType(rawValue: Int32(truncatingIfNeeded: try message.readVarint())) ?? .normal
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
