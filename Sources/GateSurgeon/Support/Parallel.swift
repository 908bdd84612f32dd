import Dispatch
import Platform
import Synchronization

/// The one way gatesurgeon runs work in parallel: independent iterations
/// spread over at most `workerCount` threads with Dispatch's
/// `concurrentPerform`, each thread taking a fixed share (static schedule),
/// so results never depend on timing and a thread limit is a real limit.
public enum Parallel {
    private static let limit = Atomic<Int>(0)

    /// The online cores.
    public static let coreCount: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// How many threads parallel loops use: every core, unless limited.
    public static var workerCount: Int {
        let value = limit.load(ordering: .relaxed)
        return value > 0 ? value : coreCount
    }

    /// Limits parallel loops to `count` threads (nil: every core).
    public static func limitWorkers(to count: Int?) {
        limit.store(max(0, count ?? 0), ordering: .relaxed)
    }

    /// Runs `body(index)` for every index of `0..<iterations`, in parallel
    /// when there is more than one. Every caller's iterations write
    /// disjoint memory and read memory nobody writes during the loop, so
    /// the body may capture raw pointers although they are not `Sendable`.
    @inline(__always)
    static func forEach(_ iterations: Int, _ body: (Int) -> Void) {
        if iterations == 1 {
            body(0)
            return
        }
        guard iterations > 1 else { return }
        let workers = min(iterations, workerCount)
        if workers == 1 {
            for index in 0..<iterations { body(index) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let shared = unsafeBitCast(body, to: (@Sendable (Int) -> Void).self)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                var index = worker
                while index < iterations {
                    shared(index)
                    index &+= workers
                }
            }
        }
    }
}

/// Splits independent work (rows, blocks, runs of elements) into chunks and
/// runs them in parallel when there is enough of it.
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
        Parallel.forEach(chunks) { chunk in
            let start = chunk &* grain
            body(start..<min(count, start &+ grain))
        }
    }
}
