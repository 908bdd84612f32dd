/// The Unicode data the tokenizers compare by, decoded once from the generated text in
/// UnicodeTables+Data.swift.
///
/// HF `tokenizers` reads Unicode through several libraries of different Unicode versions
/// (Oniguruma 16.0 for regexes, Rust's std and regex crate for other predicates, and an old copy
/// of unicode-normalization for NFC and friends), and llama.cpp has its own tables. None of them
/// is the Swift standard library's, so the tables are probed from `tokenizers` itself and copied
/// from llama.cpp's unicode-data.cpp rather than taken from `Unicode.Scalar.Properties`.
enum UnicodeTables {
    /// Bits of `hfProperties`.
    struct Property: OptionSet, Sendable {
        let rawValue: UInt16
        /// Oniguruma's `\s`.
        static let onigurumaSpace = Property(rawValue: 1 << 5)
        /// Oniguruma's `\w`.
        static let onigurumaWord = Property(rawValue: 1 << 6)
        /// Oniguruma's `\d`.
        static let onigurumaDigit = Property(rawValue: 1 << 7)
        /// Rust's `char::is_whitespace`.
        static let rustWhitespace = Property(rawValue: 1 << 8)
        /// Rust's `char::is_numeric`.
        static let rustNumeric = Property(rawValue: 1 << 9)
        /// The Punctuation pre-tokenizer's `is_punc`.
        static let rustPunctuation = Property(rawValue: 1 << 10)
        /// The Rust regex crate's `\w`.
        static let rustRegexWord = Property(rawValue: 1 << 11)
        /// The Rust regex crate's `\s`.
        static let rustRegexSpace = Property(rawValue: 1 << 12)
    }

    /// Oniguruma's general categories in the order of the low 5 bits of `hfProperties`.
    static let categoryNames = ["Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe",
                                "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Co", "Cn"]
    static let unassignedCategory: UInt16 = 28

    /// Per code point: the Oniguruma general category index (bits 0-4) and `Property` bits.
    static let hfProperties: CodePointTable = {
        var values = [UInt16](repeating: unassignedCategory, count: CodePointTable.codePointCount)
        for (index, ranges) in categoryRanges(onigurumaCategoriesText) {
            for range in ranges { for c in range { values[Int(c)] = (values[Int(c)] & ~0x1F) | UInt16(index) } }
        }
        let flags: [(String, Property)] = [
            (onigurumaSpaceText, .onigurumaSpace), (onigurumaWordText, .onigurumaWord), (onigurumaDigitText, .onigurumaDigit),
            (rustWhitespaceText, .rustWhitespace), (rustNumericText, .rustNumeric), (rustPunctuationText, .rustPunctuation),
            (rustRegexWordText, .rustRegexWord), (rustRegexSpaceText, .rustRegexSpace),
        ]
        for (text, bit) in flags {
            for range in parseRanges(text) { for c in range { values[Int(c)] |= bit.rawValue } }
        }
        return CodePointTable(values)
    }()

    /// llama.cpp's `unicode_cpt_flags` per code point (its bit layout; whitespace 0x100).
    static let llamaFlags: CodePointTable = {
        var values = [UInt16](repeating: 0, count: CodePointTable.codePointCount)
        let starts = parsePairs(llamaFlagsText)
        for (index, entry) in starts.enumerated() {
            let end = index + 1 < starts.count ? Int(starts[index + 1].0) : CodePointTable.codePointCount
            guard Int(entry.0) < end else { continue }
            for c in Int(entry.0)..<min(end, CodePointTable.codePointCount) { values[c] = UInt16(truncatingIfNeeded: entry.1) }
        }
        for c in parseList(llamaWhitespaceText) where Int(c) < values.count { values[Int(c)] |= 0x100 }
        return CodePointTable(values)
    }()

    /// llama.cpp's `unicode_tolower`.
    static let llamaLowercase: [UInt32: UInt32] = Dictionary(parsePairs(llamaLowercaseText), uniquingKeysWith: { first, _ in first })

    /// Rust's `char::to_lowercase` where it changes the character.
    static let rustLowercase: [UInt32: [UInt32]] = parseMap(rustLowercaseText)

    /// Full canonical decompositions (Hangul syllables excluded: they are algorithmic).
    static let canonicalDecomposition: [UInt32: [UInt32]] = parseMap(canonicalDecompositionText)

    /// Full compatibility decompositions where they differ from the canonical ones.
    static let compatibilityDecomposition: [UInt32: [UInt32]] = parseMap(compatibilityDecompositionText)

    /// Non-zero canonical combining classes.
    static let combiningClass: [UInt32: UInt8] = {
        var result: [UInt32: UInt8] = [:]
        for entry in unwrapped(combiningClassText).split(separator: ",") {
            let parts = entry.split(separator: ":")
            result[UInt32(parts[0], radix: 16)!] = UInt8(parts[1])!
        }
        return result
    }()

    /// Primary composites keyed by `first << 32 | second`.
    static let composition: [UInt64: UInt32] = {
        var result: [UInt64: UInt32] = [:]
        for entry in unwrapped(compositionText).split(separator: ",") {
            let sides = entry.split(separator: ":")
            let pair = sides[0].split(separator: " ").map { UInt64($0, radix: 16)! }
            result[pair[0] << 32 | pair[1]] = UInt32(sides[1], radix: 16)!
        }
        return result
    }()

    // MARK: - decoding the generated text

    /// The generated text without the line breaks that wrap it.
    static func unwrapped(_ text: String) -> String { text.filter { $0 != "\n" } }

    static func parseRanges(_ text: String) -> [ClosedRange<UInt32>] {
        unwrapped(text).split(separator: ",").map { item in
            let bounds = item.split(separator: "-").map { UInt32($0, radix: 16)! }
            return bounds[0]...(bounds.count > 1 ? bounds[1] : bounds[0])
        }
    }

    static func categoryRanges(_ text: String) -> [(Int, [ClosedRange<UInt32>])] {
        unwrapped(text).split(separator: ";").map { part in
            let sides = part.split(separator: ":", maxSplits: 1)
            let index = categoryNames.firstIndex(of: String(sides[0]))!
            return (index, sides.count > 1 ? parseRanges(String(sides[1])) : [])
        }
    }

    static func parsePairs(_ text: String) -> [(UInt32, UInt32)] {
        unwrapped(text).split(separator: ",").map { item in
            let sides = item.split(separator: ":")
            return (UInt32(sides[0], radix: 16)!, UInt32(sides[1], radix: 16)!)
        }
    }

    static func parseList(_ text: String) -> [UInt32] {
        unwrapped(text).split(separator: ",").map { UInt32($0, radix: 16)! }
    }

    static func parseMap(_ text: String) -> [UInt32: [UInt32]] {
        var result: [UInt32: [UInt32]] = [:]
        for item in unwrapped(text).split(separator: ",") {
            let sides = item.split(separator: ":", omittingEmptySubsequences: false)
            result[UInt32(sides[0], radix: 16)!] = sides[1].split(separator: " ").map { UInt32($0, radix: 16)! }
        }
        return result
    }
}

/// A 16-bit value per code point, stored as 256-entry blocks shared between equal blocks.
struct CodePointTable: Sendable {
    static let codePointCount = 0x110000
    private let blockIndex: [UInt16]
    private let blocks: [UInt16]

    init(_ values: [UInt16]) {
        var index: [UInt16] = []
        var blocks: [UInt16] = []
        var seen: [[UInt16]: UInt16] = [:]
        index.reserveCapacity(values.count / 256)
        for start in stride(from: 0, to: values.count, by: 256) {
            let block = Array(values[start..<start + 256])
            if let existing = seen[block] {
                index.append(existing)
            } else {
                let number = UInt16(blocks.count / 256)
                seen[block] = number
                blocks += block
                index.append(number)
            }
        }
        self.blockIndex = index
        self.blocks = blocks
    }

    /// The value of `codePoint`; 0 beyond U+10FFFF.
    @inline(__always)
    subscript(_ codePoint: UInt32) -> UInt16 {
        guard codePoint < 0x110000 else { return 0 }
        return blocks[Int(blockIndex[Int(codePoint >> 8)]) &* 256 &+ Int(codePoint & 0xFF)]
    }
}
