import GateSurgeon

/// Progress of a long job on standard error. On a terminal it is one line
/// redrawn in place (percent, step, amount done, rate, time left), cut to
/// the terminal's width and redrawn when it is resized (`Console.showStatus`); in a log
/// (CI) it is one plain line per step, or per tenth of the job when there
/// are many small steps, so logs show what ran and how fast without
/// carriage returns.
final class ProgressReporter: Sendable {
    enum Measure: Sendable {
        /// Work measured in bytes written (model writes).
        case bytes
        /// Work measured in steps (layers of a forward pass, tensors read).
        case steps
    }

    private struct State {
        var done = 0
        var step = 0
        var shown = false
        var lastRedraw: ContinuousClock.Instant?
        var lastLoggedTenth = -1
    }

    private let console: Console
    private let enabled: Bool
    private let live: Bool
    private let label: String
    private let total: Int
    private let stepCount: Int
    private let measure: Measure
    private let delay: Duration
    private let started = ContinuousClock.now
    private let state = Locked(State())

    /// - Parameters:
    ///   - total: total work, in `measure` units.
    ///   - steps: how many steps the work has.
    ///   - delay: say nothing until the job has run this long (jobs that
    ///     usually finish at once stay quiet).
    init(console: Console, label: String, total: Int, steps: Int, measure: Measure, quiet: Bool, delay: Duration = .zero) {
        self.console = console
        self.label = label
        self.total = max(1, total)
        self.stepCount = steps
        self.measure = measure
        self.delay = delay
        enabled = !quiet
        live = console.errorIsTerminal
    }

    /// Reports that `step` (0-based) starts, with `done` units finished before it.
    func begin(step: Int, done: Int, item: String) {
        guard enabled else { return }
        let now = ContinuousClock.now
        let elapsed = now - started
        guard elapsed >= delay else { return }
        let item = ErrorMessages.oneLine(item)  // tensor names come from files
        if live {
            let status: StatusLine? = state.withLock { state in
                state.done = done
                state.step = step
                if let last = state.lastRedraw, now - last < .milliseconds(100) { return nil }
                state.lastRedraw = now
                state.shown = true
                return line(step: step, item: item, fraction: Double(done) / Double(total), elapsed: elapsed)
            }
            if let status { console.showStatus(status) }
            return
        }
        let text: String? = state.withLock { state in
            state.done = done
            state.step = step
            let fraction = Double(done) / Double(total)
            if measure == .steps && stepCount > 10 {
                let tenth = Int(fraction * 10)
                guard tenth > state.lastLoggedTenth else { return nil }
                state.lastLoggedTenth = tenth
            }
            state.shown = true
            let status = line(step: step, item: item, fraction: fraction, elapsed: elapsed)
            return status.prefix + status.item + status.suffix + "\n"
        }
        if let text { console.writeError(text) }
    }

    /// Clears the live line, and in a log says how long the job took.
    func finish() {
        guard enabled else { return }
        let shown = state.withLock { $0.shown }
        guard shown else { return }
        let elapsed = ContinuousClock.now - started
        if live {
            console.clearStatus()
        } else {
            var text = "\(label): done in \(Self.format(elapsed))"
            if measure == .bytes { text += " (\(Self.rate(total, elapsed)))" }
            console.writeError(text + "\n")
        }
    }

    private func line(step: Int, item: String, fraction: Double, elapsed: Duration) -> StatusLine {
        let width = String(stepCount).count
        let counter = String(step + 1)
        let prefix = "\(label) [\(String(repeating: " ", count: max(0, width - counter.count)))\(counter)/\(stepCount)] \(Int(fraction * 100))%  "
        var suffix = ""
        let seconds = Self.seconds(elapsed)
        if fraction > 0 && seconds > 0.2 {
            if measure == .bytes { suffix += "  \(Self.rate(Int(fraction * Double(total)), elapsed))" }
            let left = seconds * (1 - fraction) / fraction
            suffix += "  ETA \(Self.format(.milliseconds(Int64(left * 1000))))"
        }
        return StatusLine(prefix: prefix, item: item, suffix: suffix)
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    static func format(_ duration: Duration) -> String {
        let total = seconds(duration)
        if total < 10 { return formatFixed(total, digits: 1) + "s" }
        let whole = Int(total.rounded())
        if whole < 3600 { return whole >= 60 ? "\(whole / 60)m\(whole % 60)s" : "\(whole)s" }
        return "\(whole / 3600)h\((whole % 3600) / 60)m"
    }

    private static func rate(_ bytes: Int, _ duration: Duration) -> String {
        let seconds = max(1e-3, seconds(duration))
        return InspectReport.formatBytes(Int(Double(bytes) / seconds)) + "/s"
    }
}
