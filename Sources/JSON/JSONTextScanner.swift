/// Checks a JSON text for what json-c accepts but RFC 8259 and the
/// reference parsers of the formats we read (serde_json, Python's `json`)
/// refuse or cannot represent, and finds the byte offset of each member of
/// the top-level object:
///
/// - raw control characters (U+0000 to U+001F) inside strings;
/// - `\u` escapes of lone surrogates (json-c turns them into U+FFFD, so two
///   different keys could become one);
/// - object keys containing U+0000 (json-c keys are C strings: `"a\u0000b"`
///   would silently become `"a"`);
/// - when asked, an object key that appears twice in one object, compared
///   after unescaping (`"a"` and `"\u0061"` are one name).
///
/// Strings are tracked exactly; outside strings only brackets, braces and
/// colons matter, so the scan is O(n) with no allocation for strings
/// without escapes.
enum JSONTextScanner {
    struct Result {
        /// Byte offset of each key of the top-level object (its opening quote).
        var memberOffsets: [String: Int] = [:]
    }

    /// The first problem in document order, or the member offsets.
    static func scan(_ bytes: UnsafeRawBufferPointer, rejectingDuplicateKeys: Bool) -> Swift.Result<Result, JSONError> {
        var result = Result()
        // One set of seen keys per open container; arrays get nil.
        var scopes: [Set<[UInt8]>?] = []
        var index = 0
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "{"):
                scopes.append([])
            case UInt8(ascii: "["):
                scopes.append(nil)
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                _ = scopes.popLast()
            case UInt8(ascii: "\""):
                let start = index
                let unescaped: [UInt8]?
                switch readString(bytes, at: start) {
                case .failure(let error): return .failure(error)
                case .success(let (text, end)):
                    unescaped = text
                    index = end
                }
                // A string is a key when the next non-space byte is a colon.
                var next = index + 1
                while next < count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[next]) { next += 1 }
                guard next < count, bytes[next] == UInt8(ascii: ":"), let last = scopes.indices.last, scopes[last] != nil else {
                    break
                }
                let decoded = unescaped ?? Array(bytes[(start + 1)..<min(index, count)])
                if decoded.contains(0) {
                    return .failure(JSONError(reason: "object key contains U+0000, which cannot be kept", offset: start))
                }
                if rejectingDuplicateKeys, scopes[last]!.insert(decoded).inserted == false {
                    let raw = Array(bytes[(start + 1)..<index])
                    let written = raw == decoded ? "" : " (written \"\(String(decoding: raw, as: UTF8.self))\")"
                    return .failure(JSONError(reason: "duplicate key \"\(String(decoding: decoded, as: UTF8.self))\"\(written)", offset: start))
                }
                if scopes.count == 1 {
                    result.memberOffsets[String(decoding: decoded, as: UTF8.self)] = start
                }
            default:
                break
            }
            index += 1
        }
        return .success(result)
    }

    /// The unescaped bytes of the string whose opening quote is at `start`
    /// (nil when it has no escapes: its bytes are as written), and the
    /// offset of its closing quote (or of the end of the text).
    private static func readString(_ bytes: UnsafeRawBufferPointer, at start: Int) -> Swift.Result<([UInt8]?, Int), JSONError> {
        let count = bytes.count
        var index = start + 1
        var decoded: [UInt8] = []
        var hasEscape = false
        while index < count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") { break }
            if byte < 0x20 {
                let code = String(byte, radix: 16, uppercase: true)
                return .failure(JSONError(reason: "raw control character U+\(String(repeating: "0", count: 4 - code.count))\(code) inside a string (it must be escaped)", offset: index))
            }
            if byte != UInt8(ascii: "\\") {
                if hasEscape { decoded.append(byte) }
                index += 1
                continue
            }
            if !hasEscape {
                hasEscape = true
                decoded = Array(bytes[(start + 1)..<index])
            }
            guard index + 1 < count else { break }
            let escaped = bytes[index + 1]
            switch escaped {
            case UInt8(ascii: "b"): decoded.append(0x08)
            case UInt8(ascii: "f"): decoded.append(0x0C)
            case UInt8(ascii: "n"): decoded.append(0x0A)
            case UInt8(ascii: "r"): decoded.append(0x0D)
            case UInt8(ascii: "t"): decoded.append(0x09)
            case UInt8(ascii: "u"):
                guard let unit = hexUnit(bytes, at: index + 2) else { break }
                var scalar = UInt32(unit)
                var length = 6
                if (0xD800...0xDBFF).contains(unit) {
                    guard index + 7 < count, bytes[index + 6] == UInt8(ascii: "\\"), bytes[index + 7] == UInt8(ascii: "u"),
                        let low = hexUnit(bytes, at: index + 8), (0xDC00...0xDFFF).contains(low)
                    else {
                        return .failure(JSONError(reason: "\\u escape of a lone surrogate inside a string", offset: index))
                    }
                    scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                    length = 12
                } else if (0xDC00...0xDFFF).contains(unit) {
                    return .failure(JSONError(reason: "\\u escape of a lone surrogate inside a string", offset: index))
                }
                decoded.append(contentsOf: Array(String(Unicode.Scalar(scalar)!).utf8))
                index += length
                continue
            default: decoded.append(escaped)
            }
            index += 2
        }
        return .success((hasEscape ? decoded : nil, index))
    }

    /// The value of four hex digits at `offset`, if there are four.
    private static func hexUnit(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt16? {
        guard offset + 4 <= bytes.count else { return nil }
        var value: UInt16 = 0
        for position in offset..<(offset + 4) {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt16(digit)
        }
        return value
    }
}
