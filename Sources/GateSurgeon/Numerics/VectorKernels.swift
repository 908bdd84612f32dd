import CKernels
import Platform

/// The instruction set the C kernels (module CKernels) run at: AVX-512 or
/// AVX2 where the CPU has them, else the portable Swift kernels. Every level
/// writes the same bytes; only the speed differs.
///
/// Kernels take the level as a parameter, defaulting to `best`, so tests run
/// every available path on the same data and compare the results without
/// switching anything process-wide. `best` can be lowered for measurements
/// and tests (an AVX2 run on an AVX-512 machine): process-wide with the
/// environment variable `GATESURGEON_KERNELS=portable|avx2|avx512`, read
/// once, or for one task with `withLevel(_:_:)`.
public enum VectorKernels {
    public enum Level: Int32, Sendable, Comparable, CaseIterable, CustomStringConvertible {
        /// The Swift kernels (SIMD4, the x86-64 baseline / NEON).
        case portable = 0
        /// AVX2 with FMA and F16C.
        case avx2 = 1
        /// AVX-512 F, BW and VL.
        case avx512 = 2

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }

        /// The name `GATESURGEON_KERNELS` and the tools use: `portable`, `avx2`, `avx512`.
        public var description: String {
            switch self {
            case .portable: "portable"
            case .avx2: "avx2"
            case .avx512: "avx512"
            }
        }

        /// The level named `name` (as `description` spells it), nil for any other text.
        public init?(name: String) {
            guard let level = Level.allCases.first(where: { $0.description == name }) else { return nil }
            self = level
        }
    }

    /// The fastest level this CPU supports (detected once).
    public static let supported: Level = Level(rawValue: gs_cpu_level()) ?? .portable

    /// What `GATESURGEON_KERNELS` asked for when it was first read.
    public enum EnvironmentSetting: Sendable, Equatable {
        /// The variable is not set (or empty): kernels run at `supported`.
        case unset
        /// A level; above `supported` it is capped there.
        case level(Level)
        /// A value that names no level; it is ignored, and the tools refuse to run with it.
        case invalid(String)
    }

    /// The instruction-set extensions of this CPU that matter to the kernels
    /// (and to peers built for it), by their usual names: `avx2`, `fma`,
    /// `f16c`, `avx512f`, ... Empty off x86-64.
    public static let cpuFeatures: [String] = {
        let bits = gs_cpu_features()
        let names: [(UInt32, String)] = [
            (UInt32(GS_CPU_SSE42), "sse4.2"), (UInt32(GS_CPU_AVX), "avx"), (UInt32(GS_CPU_AVX2), "avx2"),
            (UInt32(GS_CPU_FMA), "fma"), (UInt32(GS_CPU_F16C), "f16c"), (UInt32(GS_CPU_AVX512F), "avx512f"),
            (UInt32(GS_CPU_AVX512BW), "avx512bw"), (UInt32(GS_CPU_AVX512VL), "avx512vl"),
            (UInt32(GS_CPU_AVX512VNNI), "avx512vnni"), (UInt32(GS_CPU_AVX512BF16), "avx512bf16"),
        ]
        return names.filter { bits & $0.0 != 0 }.map(\.1)
    }()

    /// `GATESURGEON_KERNELS`, read once.
    public static let environmentSetting: EnvironmentSetting = {
        guard let raw = getenv("GATESURGEON_KERNELS") else { return .unset }
        let value = String(cString: raw)
        if value.isEmpty { return .unset }
        guard let level = Level(name: value) else { return .invalid(value) }
        return .level(level)
    }()

    /// The level `withLevel` set for the running task, if any.
    @TaskLocal static var scopedLevel: Level?

    /// The level kernels run at when the caller names none: the innermost
    /// `withLevel` of the running task, else `GATESURGEON_KERNELS`, never
    /// above what the CPU supports. Read on the thread that starts a piece
    /// of work; the threads it spreads to are handed the value.
    public static var best: Level {
        if let scoped = scopedLevel { return scoped }
        if case .level(let level) = environmentSetting { return min(level, supported) }
        return supported
    }

    /// Every level this CPU can run, portable first (whatever `best` is).
    public static var available: [Level] { Level.allCases.filter { $0 <= supported } }

    /// Runs `body` with `best` set to `level` on this task (tests and
    /// measurements compare levels this way; work `body` starts reads it on
    /// this thread and hands it to its worker threads).
    /// - Precondition: `level <= supported`.
    public static func withLevel<Result>(_ level: Level, _ body: () throws -> Result) rethrows -> Result {
        precondition(level <= supported, "this CPU has no \(level) kernels")
        return try $scopedLevel.withValue(level, operation: body)
    }
}

extension VectorKernels {
    /// Columns `columns` of `C = A B^T + bias` (`transposed`, B is `[n, k]`
    /// as PyTorch stores a Linear weight) or `C = A B + bias` (B is `[k, n]`),
    /// on the calling thread, with `level`'s kernel (not `.portable`).
    /// `A` is `[m, k]` with row stride `lda`; `C` row `t` starts at `t * ldc`.
    /// Each output is one fused multiply-add chain over `k` in order: the
    /// same bits at every level and however the columns are split.
    /// - Complexity: O(m * k * columns.count).
    static func gemm(
        level: Level, a: UnsafePointer<Float>, lda: Int, m: Int, k: Int,
        b: UnsafePointer<Float>, ldb: Int, transposed: Bool, bias: UnsafePointer<Float>?,
        c: UnsafeMutablePointer<Float>, ldc: Int, columns: Range<Int>
    ) {
        precondition(level > .portable && level <= supported, "no \(level) kernels on this CPU")
        guard m > 0, k > 0, !columns.isEmpty else { return }
        let panel = UnsafeMutableRawPointer.allocate(byteCount: gs_gemm_panel_floats(k) * 4, alignment: 64)
        defer { panel.deallocate() }
        gs_gemm_f32(level.rawValue, a, lda, m, k, b, ldb, transposed ? 1 : 0, bias, c, ldc,
                    columns.lowerBound, columns.upperBound, panel.assumingMemoryBound(to: Float.self))
    }

    /// `gemm` over all of `0..<n`, the columns split between threads in
    /// whole panels (the split changes no bit of the result).
    /// - Complexity: O(m * k * n), over all cores.
    static func parallelGemm(
        level: Level, a: UnsafePointer<Float>, lda: Int, m: Int, k: Int,
        b: UnsafePointer<Float>, ldb: Int, transposed: Bool, bias: UnsafePointer<Float>?,
        c: UnsafeMutablePointer<Float>, ldc: Int, n: Int
    ) {
        let width = gs_gemm_panel_width()
        let panels = (n + width - 1) / width
        // A few blocks per thread balance the load; a small product stays on
        // one thread. Packing costs k * n whatever m is, so that is the size.
        let blocks = k * n < 1 << 15 ? 1 : min(panels, Parallel.workerCount * 4)
        let panelsPerBlock = (panels + max(1, blocks) - 1) / max(1, blocks)
        let blockCount = (panels + panelsPerBlock - 1) / panelsPerBlock
        Parallel.forEach(blockCount) { block in
            let start = block * panelsPerBlock * width
            let end = min(n, start + panelsPerBlock * width)
            gemm(level: level, a: a, lda: lda, m: m, k: k, b: b, ldb: ldb, transposed: transposed, bias: bias,
                 c: c, ldc: ldc, columns: start..<end)
        }
    }
}
