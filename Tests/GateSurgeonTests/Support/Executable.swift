import GateSurgeon
import Platform
import Testing

/// The built `gatesurgeon` executable, run as a child process: for what
/// only a real process shows (signals, SIGKILL, SIGBUS, blocking opens).
/// `swift build --build-tests` and `swift test` build it next to the test
/// bundle.
enum Executable {
    /// The executable beside the running test bundle, else in .build/debug.
    static let path: String? = {
        var candidates: [String] = []
        var directory = Paths.directory(of: Paths.resolved(CommandLine.arguments.first ?? ""))
        #if os(Linux)
        directory = Paths.directory(of: Paths.resolved("/proc/self/exe"))
        #endif
        for _ in 0..<5 {
            candidates.append(Paths.join(directory, "gatesurgeon"))
            directory = Paths.directory(of: directory)
        }
        candidates.append(Paths.join(Fixtures.root, ".build/debug/gatesurgeon"))
        return candidates.first { access($0, X_OK) == 0 && !Paths.isDirectory($0) }
    }()

    /// How a child ended.
    enum Termination: Equatable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)

        var description: String {
            switch self {
            case .exited(let status): "exit status \(status)"
            case .signaled(let signal): "signal \(signal)"
            }
        }
    }

    /// A running `gatesurgeon`, its output captured in files.
    final class Child {
        let pid: pid_t
        let errorPath: String
        private(set) var termination: Termination?

        init(pid: pid_t, errorPath: String) {
            self.pid = pid
            self.errorPath = errorPath
        }

        /// Waits up to `seconds` for the child to end; kills it after that.
        @discardableResult
        func wait(seconds: Double) -> Termination? {
            if let termination { return termination }
            let deadline = Executable.now() + seconds
            while true {
                if poll() != nil { return termination }
                if Executable.now() > deadline {
                    kill(pid, SIGKILL)
                    var status: Int32 = 0
                    waitpid(pid, &status, 0)
                    return nil
                }
                usleep(2000)
            }
        }

        /// The CPU time the child used (user and system, seconds), once it has ended.
        private(set) var cpuSeconds: Double?

        /// The termination when the child has ended, without waiting.
        func poll() -> Termination? {
            if let termination { return termination }
            var status: Int32 = 0
            var usage = rusage()
            guard wait4(pid, &status, WNOHANG, &usage) == pid else { return nil }
            func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
            cpuSeconds = seconds(usage.ru_utime) + seconds(usage.ru_stime)
            termination = status & 0x7F == 0 ? .exited((status >> 8) & 0xFF) : .signaled(status & 0x7F)
            return termination
        }

        func signal(_ number: Int32) { kill(pid, number) }

        var errorOutput: String {
            (try? Paths.readFile(errorPath)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
    }

    /// Starts `gatesurgeon arguments`; standard output goes to `outputPath`
    /// (nowhere by default) and standard error to a file in `scratch`.
    static func start(_ arguments: [String], scratch: String, outputPath: String? = nil) throws -> Child {
        let executable = try #require(path, "no built gatesurgeon executable beside the tests (swift build --build-tests)")
        let errorPath = Paths.join(scratch, "stderr-\(UInt32.random(in: 0...UInt32.max)).txt")
        var argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, nil, &argv, environ)
        try #require(result == 0, "posix_spawn failed: \(result)")
        return Child(pid: pid, errorPath: errorPath)
    }

    /// Runs `gatesurgeon arguments` to the end (at most `seconds`).
    static func run(_ arguments: [String], scratch: String, seconds: Double = 20) throws -> (Termination?, String) {
        let child = try start(arguments, scratch: scratch)
        let termination = child.wait(seconds: seconds)
        return (termination, child.errorOutput)
    }

    /// Monotonic seconds.
    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
