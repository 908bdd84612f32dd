/// An importance matrix: per weight tensor, the sums of squared input
/// activations of each column and how many activation rows were summed,
/// per expert for 3-D expert tensors (llama.cpp's `common_imatrix`).
///
/// It reads both files llama-imatrix writes (the GGUF format of
/// tools/imatrix/imatrix.cpp, `<name>.in_sum2` and `<name>.counts` tensors
/// with `imatrix.*` metadata, and the legacy `.dat` format) and writes the
/// GGUF format byte for byte as llama-imatrix does. `importance(for:)` is
/// what llama-quantize hands the quantizers (`load_imatrix` of
/// tools/quantize/quantize.cpp).
public struct ImportanceMatrix: Sendable, Equatable {
    /// The two file formats.
    public enum Format: Sendable, Equatable {
        /// Raw sums and per-expert counts.
        case gguf
        /// One call count per entry; the sums are already divided by the
        /// row counts and multiplied by the call count.
        case legacy
    }

    /// The data of one weight tensor.
    public struct Entry: Sendable, Equatable {
        /// `experts × columns` values, expert-major: for `gguf`, sums of
        /// squared activations; for `legacy`, those sums normalised as the
        /// format stores them.
        public var sums: [Float]
        /// For `gguf`, activation rows summed per expert; for `legacy`, one
        /// value, the call count.
        public var counts: [Int64]

        public init(sums: [Float], counts: [Int64]) {
            self.sums = sums
            self.counts = counts
        }

        /// Values per expert (for `gguf` entries).
        public var columns: Int { counts.isEmpty ? 0 : sums.count / counts.count }
    }

    public var format: Format
    /// Entries by tensor name ("blk.0.attn_q.weight").
    public var entries: [String: Entry]
    /// The texts the matrix was computed on.
    public var datasets: [String]
    /// Chunks of text processed (`imatrix.chunk_count`; legacy: the trailing call count).
    public var chunkCount: UInt32
    /// Tokens per chunk (`imatrix.chunk_size`; 0 for legacy files).
    public var chunkSize: UInt32
    /// A GGUF file carried all three `imatrix.*` keys (llama-quantize refuses one without).
    public var hasMetadata: Bool

    public init(
        format: Format = .gguf, entries: [String: Entry] = [:], datasets: [String] = [], chunkCount: UInt32 = 0,
        chunkSize: UInt32 = 0, hasMetadata: Bool = true
    ) {
        self.format = format
        self.entries = entries
        self.datasets = datasets
        self.chunkCount = chunkCount
        self.chunkSize = chunkSize
        self.hasMetadata = hasMetadata
    }

    /// The per-column importance of `name` as llama-quantize computes it, nil
    /// without an entry: for GGUF data each expert's sums divided by its count
    /// (1 where the count is 0, experts that saw no tokens), for legacy data
    /// the sums divided by the call count (as stored when it is 0).
    /// - Complexity: O(values of the entry).
    public func importance(for name: String) -> [Float]? {
        guard let entry = entries[name] else { return nil }
        switch format {
        case .gguf:
            let experts = entry.counts.count
            guard experts > 0 else { return [Float](repeating: 0, count: entry.sums.count) }
            let columns = entry.sums.count / experts
            var values = [Float](repeating: 0, count: entry.sums.count)
            for expert in 0..<experts {
                let count = Float(entry.counts[expert])
                for i in 0..<columns {
                    values[expert * columns + i] = count > 0 ? entry.sums[expert * columns + i] / count : 1
                }
            }
            return values
        case .legacy:
            let calls = entry.counts.first ?? 0
            return calls > 0 ? entry.sums.map { $0 / Float(calls) } : entry.sums
        }
    }

    /// The importance llama-quantize uses for a tensor of `columns` columns
    /// and `experts` experts: nil without an entry, and nil for the token
    /// embedding when the sizes differ (llama-quantize ignores it then);
    /// otherwise the sizes must match and the values be finite.
    public func importance(forTensor name: String, columns: Int, experts: Int = 1) throws(ImportanceMatrixError) -> [Float]? {
        guard let values = importance(for: name) else { return nil }
        let (expected, overflow) = columns.multipliedReportingOverflow(by: max(experts, 1))
        guard !overflow, values.count == expected else {
            if name == "token_embd.weight" || name == "per_layer_token_embd.weight" { return nil }
            throw .sizeMismatch(tensor: name, values: values.count, expected: overflow ? Int.max : expected)
        }
        if let index = values.firstIndex(where: { !$0.isFinite }) { throw .nonFinite(tensor: name, index: index) }
        return values
    }
}

/// Why an importance matrix file was refused or does not fit a tensor.
public enum ImportanceMatrixError: Error, Sendable, CustomStringConvertible {
    /// The GGUF container itself is malformed.
    case gguf(GGUFError)
    case cannotRead(FileError)
    /// The file holds no entries.
    case empty(path: String)
    case truncated(path: String, offset: Int, reading: String)
    /// A count or length read from the file is impossible (negative, zero, or larger than the file).
    case badCount(path: String, offset: Int, what: String, value: Int64)
    /// A `.in_sum2` tensor without its `.counts` tensor, or the reverse.
    case unpaired(path: String, entry: String)
    case notF32(path: String, tensor: String, dtype: DType)
    /// The sums are not a whole number of values per count.
    case shapeMismatch(path: String, entry: String, values: Int, counts: Int)
    /// A count is negative, fractional beyond rounding, or not finite.
    case badCountValue(path: String, entry: String, index: Int, value: Float)
    case badMetadata(path: String, key: String, problem: String)
    case trailingBytes(path: String, offset: Int, count: Int)
    /// An entry's values do not match the tensor's columns times experts.
    case sizeMismatch(tensor: String, values: Int, expected: Int)
    case nonFinite(tensor: String, index: Int)
    /// Legacy data cannot be written in the GGUF format (its raw sums are lost).
    case legacyNotWritable
    /// Too few tokens for two chunks (llama-imatrix's minimum).
    case notEnoughTokens(tokens: Int, needed: Int, chunkSize: Int)
    /// Chunks too short for any multiplication to be collected (a dense
    /// model's need 16 rows, as llama-imatrix's do).
    case chunksTooShort(chunkSize: Int, minimum: Int)

    public var description: String {
        switch self {
        case .gguf(let error): error.description
        case .cannotRead(let error): error.description
        case .empty(let path): "\(path): importance matrix holds no entries"
        case .truncated(let path, let offset, let reading): "\(path): file ends at byte \(offset) while reading \(reading)"
        case .badCount(let path, let offset, let what, let value): "\(path): \(what) \(value) at byte \(offset) is impossible for this file"
        case .unpaired(let path, let entry): "\(path): entry '\(entry)' has sums without counts or counts without sums"
        case .notF32(let path, let tensor, let dtype): "\(path): tensor '\(tensor)' is \(dtype), importance data must be F32"
        case .shapeMismatch(let path, let entry, let values, let counts):
            "\(path): entry '\(entry)': \(values) sums are not a whole number of values for each of \(counts) counts"
        case .badCountValue(let path, let entry, let index, let value):
            "\(path): entry '\(entry)': count \(index) is \(value), not a non-negative finite number"
        case .badMetadata(let path, let key, let problem): "\(path): key '\(key)': \(problem)"
        case .trailingBytes(let path, let offset, let count): "\(path): \(count) unexpected bytes at byte \(offset) after the data"
        case .sizeMismatch(let tensor, let values, let expected):
            "importance for '\(tensor)' has \(values) values, the tensor needs \(expected) (columns times experts)"
        case .nonFinite(let tensor, let index): "importance for '\(tensor)': value \(index) is not finite"
        case .legacyNotWritable: "importance data read from a legacy file cannot be written as GGUF (its raw sums are not known)"
        case .notEnoughTokens(let tokens, let needed, let chunkSize):
            "the text gives \(tokens) tokens; \(needed) are needed for two chunks of \(chunkSize)"
        case .chunksTooShort(let chunkSize, let minimum):
            "chunks of \(chunkSize) tokens collect nothing: multiplications of fewer than \(minimum) rows are skipped, as llama-imatrix skips them"
        }
    }
}
