import ArgumentParser
import GateSurgeon

/// How many threads a command may use; shared by every command, so runs
/// compare at equal threads with other tools and CI can leave cores free.
struct ThreadOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: ArgumentHelp("Use at most this many threads (default: every online core). Outputs do not depend on it.", valueName: "n"))
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 {
            throw ValidationError("--threads takes a number of threads of at least 1, not \(threads)")
        }
    }

    /// The limit to hand to `Parallel.limitWorkers(to:)` (nil: every core).
    var workerLimit: Int? { threads }
}
