
extension ImportanceMatrix {
    /// Computes an importance matrix with the reference forward pass, as
    /// llama-imatrix does (tools/imatrix/imatrix.cpp of the pinned llama.cpp):
    /// `tokens` is cut into `chunkSize`-token chunks, each run as its own
    /// sequence from position 0, its first token replaced by `bos` when
    /// given; for every matrix multiplication inside the layers (llama.cpp's
    /// `blk.*` weights) the squared input activations are summed per column,
    /// and the rows counted, per expert for expert weights (only the tokens
    /// routed to the expert). Dense multiplications of fewer than 16 rows are
    /// skipped, as llama-imatrix skips them.
    /// - Parameters:
    ///   - chunks: at most this many chunks (nil: all whole chunks).
    ///   - dataset: the name recorded for the text (`imatrix.datasets`).
    ///   - onChunk: called before each chunk runs (for progress).
    /// - Throws: `ImportanceMatrixError.notEnoughTokens` below two chunks
    ///   (llama-imatrix's minimum), `.chunksTooShort` when a dense model's
    ///   chunks are under 16 tokens (the file would hold nothing), and the
    ///   forward pass's errors.
    /// - Complexity: one forward pass over every chunk.
    public static func collect(
        graph: ModelGraph, tokens: [Int], chunkSize: Int, chunks: Int? = nil, bos: Int?, dataset: String,
        onChunk: ((Int, Int) -> Void)? = nil
    ) throws -> ImportanceMatrix {
        guard chunkSize > 0, tokens.count >= 2 * chunkSize else {
            throw ImportanceMatrixError.notEnoughTokens(tokens: tokens.count, needed: 2 * max(1, chunkSize), chunkSize: chunkSize)
        }
        if graph.config.experts == nil && chunkSize < Collector.minimumDenseRows {
            // Only expert multiplications are collected whatever their rows.
            throw ImportanceMatrixError.chunksTooShort(chunkSize: chunkSize, minimum: Collector.minimumDenseRows)
        }
        let available = tokens.count / chunkSize
        let count = min(chunks ?? available, available)
        let collector = Collector(architecture: graph.config.architecture, experts: graph.config.experts?.count ?? 1)
        let pass = ForwardPass(graph: graph, options: ForwardOptions(observer: collector, computesLogits: false))
        for chunk in 0..<count {
            onChunk?(chunk, count)
            var ids = Array(tokens[(chunk * chunkSize)..<((chunk + 1) * chunkSize)])
            if let bos { ids[0] = bos }
            _ = try pass.run(tokens: ids)
        }
        return ImportanceMatrix(
            format: .gguf, entries: collector.entries(), datasets: [dataset], chunkCount: UInt32(clamping: count),
            chunkSize: UInt32(clamping: chunkSize), hasMetadata: true)
    }

    /// Accumulates what the forward pass hands it, under llama.cpp's tensor names.
    final class Collector: MatmulObserver {
        /// llama-imatrix ignores dense multiplications of fewer rows ("why are
        /// small batches ignored (<16 tokens)?" in its source).
        static let minimumDenseRows = 16

        private struct Sums {
            var values: [Double]
            var counts: [Int64]
        }

        private let architecture: Architecture
        private let expertCount: Int
        private let sums = Locked<[String: Sums]>([:])

        init(architecture: Architecture, experts: Int) {
            self.architecture = architecture
            expertCount = max(1, experts)
        }

        func observe(weight: GraphTensor, expert: Int?, input: [Float], rows: Int) {
            let name: String
            var slot = 0
            var slots = 1
            if let expert, let (layer, _, part) = architecture.expertComponents(of: weight.name) {
                name = architecture.ggufExpertName(layer: layer, part: part)
                slot = expert
                slots = expertCount
            } else {
                guard rows >= Self.minimumDenseRows, let gguf = architecture.ggufName(forTransformers: weight.name), gguf.hasPrefix(Architecture.ggufLayerPrefix) else { return }
                name = gguf
            }
            let columns = rows > 0 ? input.count / rows : 0
            guard columns > 0 else { return }
            sums.withLock { table in
                var entry = table[name] ?? Sums(values: [Double](repeating: 0, count: columns * slots), counts: [Int64](repeating: 0, count: slots))
                guard entry.values.count == columns * slots else { return }
                for row in 0..<rows {
                    for column in 0..<columns {
                        let x = Double(input[row * columns + column])
                        entry.values[slot * columns + column] += x * x
                    }
                }
                entry.counts[slot] += Int64(rows)
                table[name] = entry
            }
        }

        func entries() -> [String: Entry] {
            sums.withLock { table in
                table.mapValues { Entry(sums: $0.values.map { Float($0) }, counts: $0.counts) }
            }
        }
    }
}
