import CKernels

/// The instruction set the C kernels (module CKernels) run at: AVX-512 or
/// AVX2 where the CPU has them, else the portable Swift kernels.
///
/// Kernels take the level as a parameter, defaulting to `best`, so tests run
/// every available path on the same data and compare the results without
/// switching anything process-wide.
public enum VectorKernels {
    public enum Level: Int32, Sendable, Comparable, CaseIterable {
        /// The Swift kernels (SIMD4, the x86-64 baseline / NEON).
        case portable = 0
        /// AVX2 with FMA and F16C.
        case avx2 = 1
        /// AVX-512 F, BW and VL.
        case avx512 = 2

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// The fastest level this CPU supports.
    public static let best: Level = Level(rawValue: gs_cpu_level()) ?? .portable

    /// Every level this CPU can run, portable first.
    public static var available: [Level] { Level.allCases.filter { $0 <= best } }
}
