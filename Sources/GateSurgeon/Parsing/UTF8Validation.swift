/// Checks bytes for well-formed UTF-8 (Unicode 15, table 3-7): no overlong
/// forms, no surrogates, nothing above U+10FFFF, no truncated sequences.
/// Agrees with `String(validating:as: UTF8.self)`; used where a string need
/// not be built (the elements of a GGUF string array).
public enum UTF8Validation {
    /// Whether all of `bytes` is well-formed UTF-8.
    /// - Complexity: O(n), eight ASCII bytes per step.
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        firstInvalidOffset(in: bytes) == nil
    }

    /// Offset of the first byte that does not start a well-formed sequence,
    /// or nil when every byte is part of one.
    public static func firstInvalidOffset(in bytes: UnsafeRawBufferPointer) -> Int? {
        let count = bytes.count
        guard count > 0, let base = bytes.baseAddress else { return nil }
        var index = 0
        while index < count {
            while index &+ 8 <= count {
                let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                if word & 0x8080_8080_8080_8080 != 0 { break }
                index &+= 8
            }
            guard index < count else { return nil }
            let lead = base.load(fromByteOffset: index, as: UInt8.self)
            if lead < 0x80 {
                index &+= 1
                continue
            }
            let length: Int
            var low: UInt8 = 0x80
            var high: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; high = 0x9F
            case 0xF0: length = 4; low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; high = 0x8F
            default: return index
            }
            guard count &- index >= length else { return index }
            let second = base.load(fromByteOffset: index &+ 1, as: UInt8.self)
            guard second >= low && second <= high else { return index }
            var next = 2
            while next < length {
                guard base.load(fromByteOffset: index &+ next, as: UInt8.self) & 0xC0 == 0x80 else { return index }
                next &+= 1
            }
            index &+= length
        }
        return nil
    }
}
