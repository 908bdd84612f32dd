/// Finds an object key that appears twice in one object of a JSON text.
///
/// json-c keeps the last of two equal keys without telling; formats whose
/// keys are names (a safetensors header names tensors) must refuse that. The
/// scanner runs only on text json-c already accepted, so it tracks just
/// strings and nesting. Keys are compared as written, escapes included.
enum DuplicateKeyScanner {
    static func firstDuplicate(in bytes: UnsafeRawBufferPointer) -> (key: String, offset: Int)? {
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
                index += 1
                while index < count && bytes[index] != UInt8(ascii: "\"") {
                    index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                let text = Array(bytes[(start + 1)..<min(index, count)])
                // A string is a key when the next non-space byte is a colon.
                var next = index + 1
                while next < count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[next]) { next += 1 }
                if next < count, bytes[next] == UInt8(ascii: ":"), let last = scopes.indices.last,
                    scopes[last] != nil
                {
                    if scopes[last]!.insert(text).inserted == false {
                        return (String(decoding: text, as: UTF8.self), start)
                    }
                }
            default:
                break
            }
            index += 1
        }
        return nil
    }
}
