import Dispatch
import Platform
import Synchronization

/// Temporary paths of outputs not yet committed, process-wide, so an
/// interrupted run can remove them, and so a later run can recognise the
/// partials of a killed one by name and process id.
public enum PendingOutputs {
    /// What every temporary output name carries after `.NAME`.
    static let marker = ".gatesurgeon-partial-"

    private static let paths = Mutex<Set<String>>([])
    private static let serial = Atomic<Int>(0)

    static func nextSerial() -> Int { serial.wrappingAdd(1, ordering: .relaxed).newValue }

    static func register(_ path: String) { _ = paths.withLock { $0.insert(path) } }
    static func unregister(_ path: String) { _ = paths.withLock { $0.remove(path) } }

    /// Removes `.NAME.gatesurgeon-partial-PID-N` entries of `directory`
    /// whose process no longer exists; returns their paths.
    static func removeStalePartials(of name: String, in directory: String) -> [String] {
        let prefix = "." + name + marker
        var removed: [String] = []
        for entry in Paths.entries(of: directory) where entry.hasPrefix(prefix) {
            let suffix = entry.dropFirst(prefix.count)
            guard let pid = Int32(suffix.prefix { $0 != "-" }), pid > 0, pid != getpid() else { continue }
            // kill(pid, 0) fails with ESRCH only when no such process exists.
            if kill(pid, 0) != 0 && errno == ESRCH {
                let path = Paths.join(directory, entry)
                Paths.removeTree(path)
                removed.append(path)
            }
        }
        return removed
    }

    nonisolated(unsafe) private static var signalSources: [DispatchSourceSignal] = []

    /// Makes SIGINT, SIGTERM and SIGHUP remove every uncommitted output and
    /// then end the process as the signal would have.
    ///
    /// The signals are received through Dispatch signal sources, so the
    /// cleanup runs on an ordinary thread, not inside a signal handler:
    /// it may take locks, allocate and walk directories safely.
    public static func removeOnInterrupt() {
        let queue = DispatchQueue(label: "gatesurgeon.interrupt")
        for number in [SIGINT, SIGTERM, SIGHUP] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                paths.withLock { pending in
                    for path in pending { Paths.removeTree(path) }
                    pending.removeAll()
                }
                signal(number, SIG_DFL)
                raise(number)
            }
            source.resume()
            signalSources.append(source)
        }
    }
}
