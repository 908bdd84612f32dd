import Dispatch

/// Splits independent work (rows, blocks, runs of elements) into chunks and
/// runs them with `DispatchQueue.concurrentPerform` when there is enough of it.
enum ParallelChunks {
    /// Below this many elements a conversion runs on the calling thread: the
    /// dispatch overhead would cost more than it saves.
    static let minimumParallelElements = 1 << 18

    /// Calls `body` once per chunk of `0..<count`, each chunk `grain` long
    /// (the last one shorter), concurrently when `count * elementsPerItem`
    /// is large. Chunks are disjoint, so `body` may write its own part of a
    /// shared output without synchronization.
    /// - Complexity: O(count) calls of the work inside `body`.
    @inline(__always)
    static func forEach(count: Int, grain: Int, elementsPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let grain = max(1, grain)
        let chunks = (count &+ grain &- 1) / grain
        if chunks == 1 || count &* elementsPerItem < minimumParallelElements {
            body(0..<count)
            return
        }
        // `body` writes disjoint parts of buffers it captures, so sharing it
        // across the worker threads is safe although Swift cannot prove it.
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let start = chunk &* grain
                shared.value(start..<min(count, start &+ grain))
            }
        }
    }
}

/// A value handed to concurrent workers that only touch disjoint parts of it.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
