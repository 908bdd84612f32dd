import GateSurgeon
import Testing

/// Digests from Python's `hashlib.sha256` (the converter's `chkhsh` uses it).
@Suite struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        // 64 and 65 bytes: padding spills into a second block.
        (String(repeating: "a", count: 64), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"),
        (String(repeating: "a", count: 65), "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"),
    ])
    func knownDigests(message: String, digest: String) {
        #expect(SHA256.hexDigest(Array(message.utf8)) == digest)
    }

    /// Python: `hashlib.sha256(bytes((i * 7) & 255 for i in range(1000))).hexdigest()`.
    @Test func incrementalUpdatesInUnevenPieces() {
        let message = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var hasher = SHA256()
        var index = 0
        for step in [1, 3, 63, 64, 65, 200] {
            hasher.update(message[index..<(index + step)])
            index += step
        }
        hasher.update(message[index...])
        let hex = hasher.finalize().map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        #expect(hex == "89f4ff56a25dd1db06a4ce6033603775d705fb96f30f8693733fef602a1ca532")
    }
}
