import CSignalCleanup
import Dispatch
import Platform
import Synchronization

/// Temporary paths of outputs not yet committed, process-wide, so a run
/// that is interrupted or dies of a bus error removes them, and so a later
/// run can recognise the partials of a killed one by name and process id.
///
/// The registry is a fixed, preallocated, lock-free table in C
/// (`CSignalCleanup`), because the SIGBUS handler reads it: every staged
/// output (file or directory) is entered before it is created, and every
/// file `OutputFile` creates inside a staged directory as well. This type
/// keeps the index from paths to slots that registering and unregistering
/// need; both cleanups walk the table itself.
///
/// What the cleanups cover, and what they do not:
/// - SIGINT, SIGTERM, SIGHUP (`removeOnInterrupt`): handled on an ordinary
///   thread; every registered output is removed, directories recursively,
///   then the process ends as the signal would have.
/// - SIGBUS (`removeOnBusError`): an input shrank while mapped. The handler
///   writes one `error:` line naming the mapped file the fault address lies
///   in (or, when the address is in no registered mapping, a line saying an
///   input shrank without naming it), unlinks every registered file, removes
///   every registered directory that is then empty, and exits with status 2.
/// - SIGKILL and power loss cannot be caught: the partial stays under its
///   `.NAME.gatesurgeon-partial-PID-N` name and the next run writing beside
///   it removes it once that process is gone (`removeStalePartials`).
/// - Not covered by the SIGBUS handler: paths longer than 4095 bytes or
///   beyond the table's 1024 entries, a file another thread creates while
///   the handler runs, and files not created through `OutputFile`; such a
///   leftover keeps its partial name and is removed by the next run.
package enum PendingOutputs {
    /// What every temporary output name carries after `.NAME`.
    static let marker = ".gatesurgeon-partial-"

    private struct Staged {
        var slot: Int32
        /// Files registered inside a staged directory, with their slots.
        var files: [String: Int32] = [:]
    }

    private static let staged = Locked<[String: Staged]>([:])
    private static let serial = Atomic<Int>(0)

    static func nextSerial() -> Int { serial.wrappingAdd(1, ordering: .relaxed).newValue }

    /// Registers a staged output before it is created.
    static func register(_ path: String, isDirectory: Bool) {
        let slot = gs_cleanup_register(path, isDirectory ? 1 : 0)
        staged.withLock { $0[path] = Staged(slot: slot) }
    }

    /// Registers a file about to be created, when it lies in a staged
    /// directory (a staged file is registered already).
    static func registerCreatedFile(_ path: String) {
        staged.withLock { entries in
            guard entries[path] == nil else { return }
            for (directory, var entry) in entries where path.hasPrefix(directory + "/") {
                guard entry.files[path] == nil else { return }
                entry.files[path] = gs_cleanup_register(path, 0)
                entries[directory] = entry
                return
            }
        }
    }

    /// Forgets a staged output and every file registered inside it.
    static func unregister(_ path: String) {
        staged.withLock { entries in
            guard let entry = entries.removeValue(forKey: path) else { return }
            for slot in entry.files.values { gs_cleanup_unregister(slot) }
            gs_cleanup_unregister(entry.slot)
        }
    }

    /// Every live entry of the table: (path, is a directory).
    static func registeredPaths() -> [(path: String, isDirectory: Bool)] {
        var result: [(String, Bool)] = []
        var buffer = [CChar](repeating: 0, count: Int(GS_PATH_CAPACITY))
        for slot in 0..<Int32(GS_CLEANUP_SLOTS) {
            var isDirectory: Int32 = 0
            let live = buffer.withUnsafeMutableBufferPointer { gs_cleanup_entry(slot, $0.baseAddress, $0.count, &isDirectory) }
            if live != 0 {
                let path = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                result.append((path, isDirectory != 0))
            }
        }
        return result
    }

    /// Removes every registered output (files, then directories with
    /// whatever they hold) and forgets them.
    static func removeAll() {
        staged.withLock { removeAll(&$0) }
    }

    private static func removeAll(_ entries: inout [String: Staged]) {
        let registered = registeredPaths()
        for (path, isDirectory) in registered where !isDirectory { unlink(path) }
        for (path, isDirectory) in registered where isDirectory { Paths.removeTree(path) }
        for entry in entries.values {
            for slot in entry.files.values { gs_cleanup_unregister(slot) }
            gs_cleanup_unregister(entry.slot)
        }
        entries.removeAll()
    }

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
    /// it may take locks, allocate and walk directories safely. The registry
    /// stays locked until the process ends, so the writing thread cannot
    /// register a new file, commit, or finish first; the signal is unblocked
    /// on the cleanup thread before it is raised again (Dispatch's threads
    /// block it), so the process really ends by the signal.
    package static func removeOnInterrupt() {
        let queue = DispatchQueue(label: "gatesurgeon.interrupt")
        for number in [SIGINT, SIGTERM, SIGHUP] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                staged.withLock { entries in
                    removeAll(&entries)
                    signal(number, SIG_DFL)
                    var signals = sigset_t()
                    sigemptyset(&signals)
                    sigaddset(&signals, number)
                    pthread_sigmask(SIG_UNBLOCK, &signals, nil)
                    raise(number)
                }
            }
            source.resume()
            signalSources.append(source)
        }
    }

    /// Installs the SIGBUS handler: an input file truncated while mapped
    /// ends the run with one `error:` line, exit status 2 and no output.
    ///
    /// The handler is C and async-signal-safe: it writes a message prepared
    /// here with write(2), unlinks and rmdirs the paths of the registry
    /// (prepared as C strings when they were registered), then calls
    /// `_exit(2)`. It names the file when the fault address lies in a mapping
    /// `MappedFile` registered, which is the case for every input read
    /// through it. Call once, at start-up, from the executable.
    package static func removeOnBusError() {
        _ = gs_install_bus_error_handler(
            ": the file shrank while it was being read (truncated by another program?); unfinished outputs were removed\n",
            "error: an input file shrank while it was being read (bus error); unfinished outputs were removed\n")
    }
}
