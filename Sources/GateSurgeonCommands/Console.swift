import GateSurgeon
import JSON
import Platform

/// Where a command writes. Results (tables, JSON) go to standard output;
/// progress, warnings and errors to standard error, so `--json` output can
/// be piped while a human still sees what happens. Tests capture both.
public final class Console: Sendable {
    private let capturing: Bool
    private let captured = Locked<(output: String, errorOutput: String)>(("", ""))

    private init(capturing: Bool) { self.capturing = capturing }

    /// The process's standard output and standard error.
    public static let standard = Console(capturing: false)

    /// A console that keeps everything written to it, for tests.
    public static func capture() -> Console { Console(capturing: true) }

    /// What was written to standard output (capturing consoles only).
    public var output: String { captured.withLock { $0.output } }
    /// What was written to standard error (capturing consoles only).
    public var errorOutput: String { captured.withLock { $0.errorOutput } }

    /// Whether standard error is a terminal, where progress redraws one line.
    var errorIsTerminal: Bool { !capturing && isatty(STDERR_FILENO) != 0 }

    /// Writes `line` and a newline to standard output.
    func print(_ line: String = "") { writeOutput(line + "\n") }

    func writeOutput(_ text: String) {
        if capturing {
            captured.withLock { $0.output += text }
        } else {
            Swift.print(text, terminator: "")
        }
    }

    /// Writes `line` and a newline to standard error.
    func printError(_ line: String) { writeError(line + "\n") }

    /// Writes `text` to standard error, unbuffered (progress, warnings).
    func writeError(_ text: String) {
        if capturing {
            captured.withLock { $0.errorOutput += text }
            return
        }
        fflush(nil)
        var bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let written = bytes.withUnsafeMutableBytes { systemWrite(STDERR_FILENO, $0.baseAddress! + done, $0.count - done) }
            if written <= 0 { break }
            done += written
        }
    }

    /// A warning line: `warning: ...` on standard error.
    func warn(_ message: String) { printError("warning: " + ErrorMessages.oneLine(message)) }
}

/// The warnings a command prints on standard error, kept for its `--json`
/// document: a machine reading standard output learns what a person
/// reading standard error does.
struct Warnings {
    let console: Console
    private(set) var messages: [String] = []

    init(console: Console) { self.console = console }

    /// Prints `warning: message` and keeps it.
    mutating func warn(_ message: String) {
        console.warn(message)
        messages.append(ErrorMessages.oneLine(message))
    }

    var json: JSONValue { .array(messages.map { .string($0) }) }
}
