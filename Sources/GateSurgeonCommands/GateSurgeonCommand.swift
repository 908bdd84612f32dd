import ArgumentParser
import GateSurgeon

/// The `gatesurgeon` command line: a thin layer over the GateSurgeon library.
public struct GateSurgeonCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "gatesurgeon",
        abstract: "Inspect, convert, quantize and gate safetensors and GGUF checkpoints.",
        discussion: """
            gatesurgeon reads safetensors files, sharded model directories and GGUF files into one model graph. It \
            inserts attention output gates (Gated Attention, Qwen 2025), converts dtypes, quantizes to GGUF types, \
            converts between the formats, and checks what it wrote against a reference forward pass.

            Outputs: a path ending in .safetensors or .gguf is a file; a path ending in /, an existing directory or \
            a path without extension is a model directory. Outputs never replace or lie inside an input. An \
            existing output is replaced only with --force, and a directory is then written into: files of the \
            same names are replaced, nothing else is removed. Everything appears at once when complete, or not at all.

            Exit status: 0 success, 1 a verification threshold failed, 2 bad input or usage (nothing written), \
            130 interrupted (unfinished outputs removed).
            """,
        version: "0.2.0",
        subcommands: [InspectCommand.self, AddGateCommand.self, ConvertCommand.self, ForwardCommand.self, VerifyCommand.self, ImatrixCommand.self]
    )

    public init() {}

    /// Parses `arguments` (without the program name), runs the command and
    /// returns its exit status; every message goes to `console`, errors as
    /// one `error: ...` line. The executable and the tests both call this.
    public static func execute(_ arguments: [String], console: Console = .standard) -> Int32 {
        if let problem = commandProblem(in: arguments) {
            console.printError("error: \(problem); run 'gatesurgeon --help' to see the commands")
            return ExitStatus.badInput
        }
        do {
            var command = try parseAsRoot(arguments)
            if let consoleCommand = command as? any ConsoleCommand {
                Parallel.limitWorkers(to: consoleCommand.threadOptions.workerLimit)
                defer { Parallel.limitWorkers(to: nil) }
                try consoleCommand.run(console: console)
            } else {
                try command.run()
            }
            return ExitStatus.success
        } catch is VerificationFailed {
            return ExitStatus.verificationFailed
        } catch let exit as ExitCode {
            return exit.rawValue
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                // --help, --version
                console.print(fullMessage(for: error))
                return ExitStatus.success
            }
            if code == .validationFailure {
                console.printError("error: " + usageMessage(for: error, arguments: arguments))
                return ExitStatus.badInput
            }
            console.printError("error: " + ErrorMessages.describe(error))
            return ExitStatus.badInput
        }
    }
}

extension GateSurgeonCommand {
    static var subcommandNames: [String] { configuration.subcommands.compactMap { $0.configuration.commandName } }

    /// Why `arguments` name no command to run, if they do not: nothing given,
    /// a word that is no command, or `help` for one that does not exist.
    /// ArgumentParser prints the overview and succeeds in these cases, which
    /// would let a typo in a script pass.
    static func commandProblem(in arguments: [String]) -> String? {
        guard let first = arguments.first else { return "no command given" }
        if first == "help" {
            guard arguments.count > 1, !subcommandNames.contains(arguments[1]) else { return nil }
            return "'\(ErrorMessages.oneLine(arguments[1]))' is not a command"
        }
        if first.hasPrefix("-") || subcommandNames.contains(first) { return nil }
        return "'\(ErrorMessages.oneLine(first))' is not a command"
    }

    /// ArgumentParser's message for a usage error as one line that names the
    /// subcommand and where its options are explained:
    /// `gatesurgeon inspect: missing expected argument '<path>'; run 'gatesurgeon inspect --help' for its options`.
    static func usageMessage(for error: any Error, arguments: [String]) -> String {
        let command = arguments.first.map { subcommandNames.contains($0) ? "gatesurgeon \($0)" : "gatesurgeon" } ?? "gatesurgeon"
        var text = message(for: error).split(whereSeparator: \.isNewline).map { $0.drop(while: \.isWhitespace) }.joined(separator: " ")
        if text.hasSuffix(".") { text.removeLast() }
        // ArgumentParser's sentences start upper case ("Missing expected argument"); ours are
        // clauses after a colon.
        if let first = text.first, first.isUppercase, text.dropFirst().first?.isLowercase == true {
            text = first.lowercased() + text.dropFirst()
        }
        return ErrorMessages.oneLine("\(command): \(text); run '\(command) --help' for its options")
    }
}

/// A subcommand whose output goes through a `Console`.
protocol ConsoleCommand: ParsableCommand {
    /// `--threads`: the most threads the command's parallel loops use.
    var threadOptions: ThreadOptions { get }
    func run(console: Console) throws
}

extension ConsoleCommand {
    mutating func run() throws { try run(console: .standard) }
}
