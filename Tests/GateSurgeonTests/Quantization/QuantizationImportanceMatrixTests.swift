import GateSurgeon
import JSON
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// llama-imatrix's files for the committed model (dense) and for a tiny
/// 8-expert Qwen3-MoE model, in both formats (reference/imatrix/,
/// fixtures/gen/presets.py), and what gguf-py reads from the GGUF ones
/// (reference/imatrix/imatrix.json).
@Suite("Importance matrix files")
struct QuantizationImportanceMatrixTests {
    static let files = ["presets-llama.imatrix.gguf", "qwen3moe-l2-e8.imatrix.gguf"]

    static func path(_ name: String) -> String { Fixtures.path("reference/imatrix/\(name)") }

    /// Every entry, shape, count, sum and key gguf-py reads is read.
    @Test(arguments: files)
    func ggufFilesReadAsGGUFPyReadsThem(_ name: String) throws {
        let matrix = try ImportanceMatrix(contentsOf: Self.path(name))
        let reference = try #require(try Fixtures.json("reference/imatrix/imatrix.json")[name])
        #expect(matrix.format == .gguf && matrix.hasMetadata)
        let keys = try #require(reference["keys"])
        #expect(matrix.datasets == keys["imatrix.datasets"]?.arrayValue?.compactMap(\.stringValue))
        #expect(Int64(matrix.chunkCount) == keys["imatrix.chunk_count"]?.intValue)
        #expect(Int64(matrix.chunkSize) == keys["imatrix.chunk_size"]?.intValue)
        let entries = try #require(reference["entries"]?.objectValue)
        #expect(Set(matrix.entries.keys) == Set(entries.keys))
        for (entryName, expected) in entries {
            let entry = try #require(matrix.entries[entryName])
            let shape = (expected["shape"]?.arrayValue ?? []).compactMap(\.intValue).map(Int.init)
            #expect(shape.reduce(1, *) == entry.sums.count && (shape.count == 1 ? 1 : shape[0]) == entry.counts.count)
            #expect(entry.counts.map(Double.init) == (expected["counts"]?.arrayValue ?? []).compactMap(\.doubleValue))
            let digest = entry.sums.withUnsafeBytes { SHA256.hexDigest($0) }
            #expect(digest == expected["sums_sha256"]?.stringValue, "\(entryName)")
        }
    }

    /// Writing what was read gives llama-imatrix's file byte for byte.
    @Test(arguments: files)
    func writingGivesLlamaImatrixBytes(_ name: String) throws {
        let matrix = try ImportanceMatrix(contentsOf: Self.path(name))
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        let output = Paths.join(directory, name)
        try matrix.writeGGUF(to: output)
        #expect(try Fixtures.bytes(output) == Fixtures.bytes(Self.path(name)))
        #expect(try ImportanceMatrix(contentsOf: output) == matrix)
    }

    /// The legacy file of the same run holds, per value, `(sum / count) * ncall`
    /// (llama-imatrix's `save_imatrix_legacy`, ncall the chunks of the largest
    /// count, rounded up), and both give the same entries and dataset.
    @Test(arguments: files)
    func legacyFilesHoldTheNormalisedSums(_ name: String) throws {
        let gguf = try ImportanceMatrix(contentsOf: Self.path(name))
        let legacy = try ImportanceMatrix(contentsOf: Self.path(String(name.dropLast(5)) + ".dat"))
        #expect(legacy.format == .legacy && legacy.datasets == gguf.datasets)
        let chunk = Int64(gguf.chunkSize)
        // Entries with no data at all are not stored in the legacy format.
        let stored = gguf.entries.filter { $0.value.counts.contains { $0 > 0 } }
        #expect(Set(legacy.entries.keys) == Set(stored.keys))
        for (entryName, entry) in stored {
            let calls = ((entry.counts.max() ?? 0) + chunk - 1) / chunk
            let expected = entry.sums.indices.map { i -> Float in
                var count = Float(entry.counts[i / entry.columns])
                var value = entry.sums[i]
                if count == 0 { (value, count) = (1, 1) }
                return (value / count) * Float(calls)
            }
            let read = try #require(legacy.entries[entryName])
            #expect(read.counts == [calls])
            #expect(read.sums.map(\.bitPattern) == expected.map(\.bitPattern), "\(entryName)")
        }
    }

    /// llama-quantize's normalisation: each expert's sums over its count,
    /// 1 for experts that saw no tokens; legacy sums over the call count.
    @Test func importanceIsTheMeanSquarePerColumn() throws {
        let matrix = ImportanceMatrix(entries: ["w": .init(sums: [2, 4, 6, 9, 5, 7], counts: [2, 0, 3])])
        #expect(matrix.importance(for: "w") == [1, 2, 1, 1, Float(5) / 3, Float(7) / 3])
        #expect(matrix.importance(for: "missing") == nil)
        #expect(try matrix.importance(forTensor: "w", columns: 2, experts: 3)?.count == 6)
        #expect(throws: ImportanceMatrixError.self) { try matrix.importance(forTensor: "w", columns: 3, experts: 1) }
        let legacy = ImportanceMatrix(format: .legacy, entries: ["w": .init(sums: [3, 6], counts: [3]), "z": .init(sums: [3], counts: [0])])
        #expect(legacy.importance(for: "w") == [1, 2] && legacy.importance(for: "z") == [3])
        let embedding = ImportanceMatrix(entries: ["token_embd.weight": .init(sums: [1, 2], counts: [1])])
        #expect(try embedding.importance(forTensor: "token_embd.weight", columns: 4) == nil)
        let infinite = ImportanceMatrix(entries: ["w": .init(sums: [.infinity], counts: [1])])
        #expect(throws: ImportanceMatrixError.self) { try infinite.importance(forTensor: "w", columns: 1) }
    }

    /// Malformed legacy files, each one mutation of the committed one, are
    /// refused with a one-line error naming the file and the byte offset.
    @Test func malformedLegacyFilesAreRefused() throws {
        let good = try Fixtures.bytes(Self.path("presets-llama.imatrix.dat"))
        func int32(_ value: Int32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
        let nameLength = Int(good[4])
        let valueCountAt = 8 + nameLength + 4
        var cases: [(String, [UInt8], String)] = [
            ("empty", [], "while reading the entry count"),
            ("zero-entries", int32(0), "holds no entries"),
            ("huge-entry-count", int32(Int32.max) + good[4...], "entry count 2147483647 at byte 0"),
            ("truncated", Array(good[..<(valueCountAt + 4 + 100)]), "entry count 14 at byte 0"),
            ("trailing", good + [1, 2, 3, 4, 5, 6, 7, 8, 9], "9 unexpected bytes at byte \(good.count)"),
            // The trailer (chunk count, dataset name length, "text.txt") replaced by two bytes.
            ("short-trailer", Array(good.dropLast(16)) + [1, 2], "while reading the chunk count"),
        ]
        var negativeName = good
        negativeName.replaceSubrange(4..<8, with: int32(-5))
        cases.append(("negative-name-length", negativeName, "name length of entry 0 -5 at byte 4"))
        var truncatedValues = Array(good[..<(valueCountAt + 4 + 100)])
        truncatedValues.replaceSubrange(0..<4, with: int32(1))
        cases.append(("truncated-values", truncatedValues, "value count of 'blk.0.attn_k.weight' 256 at byte \(valueCountAt)"))
        var hugeValues = good
        hugeValues.replaceSubrange(valueCountAt..<(valueCountAt + 4), with: int32(1 << 30))
        cases.append(("huge-value-count", hugeValues, "value count of 'blk.0.attn_k.weight' 1073741824 at byte \(valueCountAt)"))
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        for (label, bytes, expected) in cases {
            let path = Paths.join(directory, "\(label).dat")
            let output = try OutputFile(creating: path)
            try output.write(bytes)
            try output.close()
            do {
                _ = try ImportanceMatrix(contentsOf: path)
                Issue.record("\(label): read without error")
            } catch {
                let message = error.description
                #expect(message.hasPrefix(path) && message.contains(expected) && !message.contains("\n"), "\(label): \(message)")
            }
        }
    }

    /// Malformed GGUF importance files are refused the same way.
    @Test func malformedGGUFFilesAreRefused() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(directory) }
        func write(_ label: String, _ tensors: [OutputTensor], metadata: [(key: String, value: GGUFValue)] = []) throws -> String {
            let path = Paths.join(directory, "\(label).gguf")
            try GGUFWriter.write(metadata: Metadata(metadata), tensors: tensors, to: path)
            return path
        }
        let sums = OutputTensor.floats([1, 2, 3, 4], name: "w.in_sum2", shape: [2, 2])
        let cases: [(String, String)] = [
            (try write("no-tensors", []), "holds no entries"),
            (try write("unpaired", [sums]), "entry 'w' has sums without counts"),
            (try write("uneven", [sums, .floats([1, 1, 1], name: "w.counts", shape: [3, 1])]), "4 sums are not a whole number"),
            (try write("negative-count", [sums, .floats([1, -2], name: "w.counts", shape: [2, 1])]), "count 1 is -2.0"),
            (try write("f16", [OutputTensor.bytes([0, 0], name: "w.in_sum2", dtype: .f16, shape: [1]), .floats([1], name: "w.counts", shape: [1])]),
             "tensor 'w.in_sum2' is F16"),
            (try write("bad-key", [sums, .floats([1, 1], name: "w.counts", shape: [2, 1])], metadata: [("imatrix.chunk_count", .int32(3))]),
             "key 'imatrix.chunk_count': not a uint32"),
        ]
        for (path, expected) in cases {
            do {
                _ = try ImportanceMatrix(contentsOf: path)
                Issue.record("\(path): read without error")
            } catch {
                #expect(error.description.hasPrefix(path) && error.description.contains(expected), "\(error.description)")
            }
        }
    }
}
