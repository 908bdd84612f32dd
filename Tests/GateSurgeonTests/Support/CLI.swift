import GateSurgeonCommands
import Testing

/// Runs gatesurgeon commands in-process, as the executable does, with the
/// console captured: tests see the exit status and both output streams.
enum CLI {
    struct Outcome {
        var status: Int32
        var output: String
        var errorOutput: String
    }

    /// - Parameter terminalColumns: standard error is a terminal this wide (progress redraws one line).
    static func run(_ arguments: [String], terminalColumns: Int? = nil) -> Outcome {
        let console = Console.capture(terminalColumns: terminalColumns)
        let status = GateSurgeonCommand.execute(arguments, console: console)
        return Outcome(status: status, output: console.output, errorOutput: console.errorOutput)
    }

    /// Runs a command that must succeed; records its error output otherwise.
    @discardableResult
    static func succeed(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> Outcome {
        let outcome = run(arguments)
        try #require(outcome.status == 0, "gatesurgeon \(arguments.joined(separator: " ")) exited \(outcome.status): \(outcome.errorOutput)",
                     sourceLocation: sourceLocation)
        return outcome
    }
}
