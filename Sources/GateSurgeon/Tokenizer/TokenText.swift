/// Token text compared and hashed by its UTF-8 bytes.
///
/// Swift's `String` equality is canonical equivalence ("é" == "e\u{301}"), while both references
/// compare token texts byte for byte; every vocabulary lookup goes through this type.
struct TokenText: Hashable, Sendable {
    let text: String

    init(_ text: String) {
        var copy = text
        copy.makeContiguousUTF8()
        self.text = copy
    }

    init(_ bytes: some Collection<UInt8>) {
        self.init(String(decoding: bytes, as: UTF8.self))
    }

    static func == (lhs: TokenText, rhs: TokenText) -> Bool {
        lhs.text.utf8.elementsEqual(rhs.text.utf8)
    }

    func hash(into hasher: inout Hasher) {
        let done: Void? = text.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if done == nil { for b in text.utf8 { hasher.combine(b) } }
        hasher.combine(text.utf8.count)
    }
}
