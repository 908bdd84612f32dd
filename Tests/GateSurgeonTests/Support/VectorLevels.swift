@testable import GateSurgeon
import Testing

extension VectorKernels.Level {
    /// Every level, portable included: tests run over all of them and cancel, naming it, a
    /// level this CPU cannot run, so a run on another CPU says what it did not check.
    static let all = VectorKernels.Level.allCases
    /// The AVX2 and AVX-512 levels.
    static let vector = VectorKernels.Level.allCases.filter { $0 > .portable }

    /// Cancels the running test case when this CPU cannot run the level's kernels.
    func requireOnThisCPU(sourceLocation: SourceLocation = #_sourceLocation) throws {
        if self > VectorKernels.best {
            try Test.cancel("this CPU cannot run the \(self) kernels (it runs \(VectorKernels.available))", sourceLocation: sourceLocation)
        }
    }
}
