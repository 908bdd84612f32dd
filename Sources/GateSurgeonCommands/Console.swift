import Dispatch
import GateSurgeon
import JSON
import Platform

/// Where a command writes. Results (tables, JSON) go to standard output;
/// progress, warnings and errors to standard error, so `--json` output can
/// be piped while a human still sees what happens. Tests capture both.
///
/// On a terminal, standard error also holds one status line redrawn in
/// place (progress): cut to the terminal's width, so it never wraps into
/// stale lines, and redrawn when the terminal is resized (SIGWINCH).
public final class Console: Sendable {
    private struct Terminal {
        /// The width a capturing console pretends its terminal has (nil: no terminal).
        var simulatedColumns: Int?
        /// The status line shown, uncut, for redrawing at another width.
        var status: StatusLine?
        /// Delivers SIGWINCH, once a status line was shown.
        var resizeSource: (any DispatchSourceSignal)?
    }

    private let capturing: Bool
    private let captured = Locked<(output: String, errorOutput: String)>(("", ""))
    private let terminal: Locked<Terminal>

    private init(capturing: Bool, terminalColumns: Int?) {
        self.capturing = capturing
        terminal = Locked(Terminal(simulatedColumns: terminalColumns))
    }

    deinit {
        terminal.withLock { $0.resizeSource?.cancel() }
    }

    /// The process's standard output and standard error.
    public static let standard = Console(capturing: false, terminalColumns: nil)

    /// A console that keeps everything written to it, for tests; with
    /// `terminalColumns`, standard error behaves as a terminal that wide.
    public static func capture(terminalColumns: Int? = nil) -> Console { Console(capturing: true, terminalColumns: terminalColumns) }

    /// What was written to standard output (capturing consoles only).
    public var output: String { captured.withLock { $0.output } }
    /// What was written to standard error (capturing consoles only).
    public var errorOutput: String { captured.withLock { $0.errorOutput } }

    /// Whether standard error is a terminal, where progress redraws one line.
    var errorIsTerminal: Bool { errorColumns != nil }

    /// The width of the terminal standard error is, in columns; nil when it is none.
    var errorColumns: Int? {
        if capturing { return terminal.withLock { $0.simulatedColumns } }
        guard isatty(STDERR_FILENO) != 0 else { return nil }
        var size = winsize()
        // 80, the usual default, when the terminal does not say.
        guard ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }

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

    /// Draws `status` in place of the current status line (terminals only),
    /// cut to the terminal's width.
    func showStatus(_ status: StatusLine) {
        guard let columns = errorColumns else { return }
        watchResizes()
        terminal.withLock { $0.status = status }
        writeError("\r\u{1B}[2K" + status.fitted(to: columns))
    }

    /// Clears the status line.
    func clearStatus() {
        let shown = terminal.withLock { state in
            defer { state.status = nil }
            return state.status != nil
        }
        if shown { writeError("\r\u{1B}[2K") }
    }

    /// Redraws the status line at the terminal's width now (SIGWINCH).
    func terminalResized() {
        guard let columns = errorColumns, let status = terminal.withLock({ $0.status }) else { return }
        writeError("\r\u{1B}[2K" + status.fitted(to: columns))
    }

    /// A capturing console's terminal changes width, as after SIGWINCH.
    func simulateResize(to columns: Int) {
        terminal.withLock { $0.simulatedColumns = columns }
        terminalResized()
    }

    /// Starts delivering SIGWINCH to `terminalResized`, once. The signal
    /// reaches libdispatch's async-signal-safe handler; the redraw runs on a
    /// queue, outside the signal handler.
    private func watchResizes() {
        terminal.withLock { state in
            guard state.resizeSource == nil else { return }
            let source = DispatchSource.makeSignalSource(signal: SIGWINCH, queue: Console.resizeQueue)
            source.setEventHandler { [weak self] in self?.terminalResized() }
            source.resume()
            state.resizeSource = source
        }
    }

    private static let resizeQueue = DispatchQueue(label: "gatesurgeon.resize")
}

/// A status line in three parts; when it does not fit, the middle (a
/// tensor name) gives way first, then the end.
struct StatusLine: Sendable, Equatable {
    var prefix: String
    var item: String
    var suffix: String

    /// The line in at most `columns - 1` characters (a line as wide as the
    /// terminal wraps on some terminals): the item shortened with `…` in its
    /// middle when that is enough, else everything cut at the end.
    func fitted(to columns: Int) -> String {
        let width = max(1, columns - 1)
        let whole = prefix + item + suffix
        guard whole.count > width else { return whole }
        let room = width - prefix.count - suffix.count
        if room >= 5 {
            let head = (room - 1) / 2, tail = room - 1 - head
            return prefix + item.prefix(head) + "…" + item.suffix(tail) + suffix
        }
        return String(whole.prefix(width))
    }
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
