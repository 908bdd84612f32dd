/// GPT-2's reversible mapping of the 256 byte values to printable characters
/// (`bytes_to_unicode`), used by the ByteLevel pre-tokenizer and decoder and by llama.cpp.
enum ByteLevel {
    /// The character standing for each byte.
    static let characters: [UInt32] = {
        var bytes: [Int] = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        var characters = bytes.map { UInt32($0) }
        var next: UInt32 = 256
        for b in 0..<256 where !bytes.contains(b) {
            bytes.append(b)
            characters.append(next)
            next += 1
        }
        var table = [UInt32](repeating: 0, count: 256)
        for (b, c) in zip(bytes, characters) { table[b] = c }
        return table
    }()

    /// The byte each mapped character stands for (characters U+0000...U+0143).
    static let bytes: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (b, c) in characters.enumerated() { table[Int(c)] = Int16(b) }
        return table
    }()

    @inline(__always)
    static func byte(for character: UInt32) -> UInt8? {
        guard character < 0x144 else { return nil }
        let b = bytes[Int(character)]
        return b < 0 ? nil : UInt8(b)
    }

    /// The UTF-8 bytes of `scalars`, each as its mapped character.
    static func encode(_ scalars: [UInt32]) -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(scalars.count)
        for s in scalars {
            if s < 0x80 {
                out.append(characters[Int(s)])
            } else if s < 0x800 {
                out.append(characters[Int(0xC0 | (s >> 6))])
                out.append(characters[Int(0x80 | (s & 0x3F))])
            } else if s < 0x10000 {
                out.append(characters[Int(0xE0 | (s >> 12))])
                out.append(characters[Int(0x80 | ((s >> 6) & 0x3F))])
                out.append(characters[Int(0x80 | (s & 0x3F))])
            } else {
                out.append(characters[Int(0xF0 | (s >> 18))])
                out.append(characters[Int(0x80 | ((s >> 12) & 0x3F))])
                out.append(characters[Int(0x80 | ((s >> 6) & 0x3F))])
                out.append(characters[Int(0x80 | (s & 0x3F))])
            }
        }
        return out
    }
}

extension Array where Element == UInt32 {
    /// The scalars of a string.
    init(scalarsOf text: some StringProtocol) {
        self = text.unicodeScalars.map(\.value)
    }

    /// The string these scalars spell (every element is a valid scalar by construction).
    var scalarString: String {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: self.map { Unicode.Scalar($0) ?? "\u{FFFD}" })
        return String(s)
    }
}
