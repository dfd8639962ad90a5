import Foundation
import Glibc
import Portcullis

/// Where the built executables are: `PORTCULLIS_BIN_DIR`, else the package's `.build/debug`.
enum BuiltProducts {
    static let directory: URL = {
        if let override = ProcessInfo.processInfo.environment["PORTCULLIS_BIN_DIR"] {
            return URL(fileURLWithPath: override)
        }
        return packageRoot.appendingPathComponent(".build/debug")
    }()

    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
}

/// A loopback port that refuses connections and that no other process can take while the
/// value lives: bound, never listening (a dead upstream, a stopped service).
final class ClosedPort: @unchecked Sendable {
    private let fd: Int32
    let port: UInt16

    init() {
        (fd, port) = boundLoopbackSocket()
    }

    deinit { close(fd) }
}

/// A loopback port that takes connections into its backlog and never accepts them: a connect
/// to it completes, and what is sent waits unread (an upstream that is there but slow).
final class ListeningPort: @unchecked Sendable {
    private let fd: Int32
    let port: UInt16

    init() {
        (fd, port) = boundLoopbackSocket()
        listen(fd, 16)
    }

    deinit { close(fd) }
}

/// A connected pair of non-blocking Unix stream sockets (a client connection's socket and its
/// peer, without a network).
func nonBlockingSocketPair() throws -> (Int32, Int32) {
    var fds: [Int32] = [0, 0]
    guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds) == 0 else {
        throw HarnessError("socketpair: \(String(cString: strerror(errno)))")
    }
    return (fds[0], fds[1])
}

/// A TCP socket bound to a free port of 127.0.0.1, and the port.
private func boundLoopbackSocket() -> (Int32, UInt16) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(fd, pointer, length)
            return getsockname(fd, pointer, &length)
        }
    }
    return (fd, UInt16(bigEndian: address.sin_port))
}

extension Thread {
    /// Waits until the thread's body has returned.
    func waitUntilFinished() {
        while !isFinished { usleep(1000) }
    }
}

/// A child process with its output (stdout and stderr) captured in a temporary file.
///
/// Started with `posix_spawn` and reaped with `waitpid`, not with Foundation's `Process`: its
/// `waitUntilExit` waits on a run loop and, called off the main thread while dozens of
/// processes come and go, can hang for good (a known swift-corelibs-foundation failure, and
/// the suspect of a CI run that hung until its time limit). Descriptors from 3 up are closed
/// in the child, so a gateway never holds a test's client socket open; `passing` descriptors
/// become the child's 3, 4, … (socket activation).
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    let logURL: URL
    private let lock = NSLock()
    private var exitStatus: Int32?

    init(executable: String, arguments: [String], environment: [String: String] = [:], passing descriptors: [Int32] = []) throws {
        logURL = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-test-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0)=\($1)" }
        do {
            pid = try ProcessSpawner.spawn(executable, arguments: arguments, environment: environment, passing: descriptors,
                                           streams: .logFile(logURL.path))
        } catch {
            throw HarnessError("\(error)")
        }
    }

    deinit {
        if isRunning {
            kill(pid, SIGKILL)
            _ = waitForExit(seconds: 10)
        }
        try? FileManager.default.removeItem(at: logURL)
    }

    /// Whether the process still runs (reaped here the first time it is found ended).
    var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        if exitStatus == nil {
            var status: Int32 = 0
            let reaped = waitpid(pid, &status, WNOHANG)
            // Exit code when it exited, else the signal that ended it (as `Process` reported).
            if reaped == pid { exitStatus = status & 0x7f == 0 ? (status >> 8) & 0xff : status & 0x7f }
            if reaped < 0 { exitStatus = -1 }
        }
        return exitStatus == nil
    }

    /// Runs a command to its end (at most `seconds`) and returns what it printed.
    static func output(of executable: String, _ arguments: [String], seconds: Double = 30) throws -> (status: Int32, output: String) {
        let child = try ChildProcess(executable: executable, arguments: arguments)
        guard let status = child.waitForExit(seconds: seconds) else { throw HarnessError("\(executable) \(arguments) did not end within \(seconds) s") }
        return (status, child.output)
    }

    /// Everything the process printed so far.
    var output: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    func send(_ signal: Int32) { kill(pid, signal) }

    /// Waits for the process to end; its exit status, or nil on timeout.
    func waitForExit(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while isRunning && Date() < deadline { usleep(1000) }
        return isRunning ? nil : lock.withLock { exitStatus }
    }

    /// Waits until the output has a line containing `text`; returns the first such line.
    func waitForLine(containing text: String, seconds: Double) -> String? {
        var found: String?
        _ = waitFor(seconds: seconds) {
            found = output.split(separator: "\n").first { $0.contains(text) }.map(String.init)
            return found != nil || !isRunning
        }
        return found
    }

    /// How many lines of the output contain `text`.
    func lineCount(containing text: String) -> Int {
        output.split(separator: "\n").reduce(0) { $1.contains(text) ? $0 + 1 : $0 }
    }

    /// Polls `condition` until it holds or `seconds` pass.
    func waitFor(seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    /// CPU time (user + system) the process has used so far, in seconds, from /proc.
    func cpuSeconds() -> Double {
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return -1 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Resident and peak resident memory in KiB, from /proc.
    func memoryKiB() -> (rss: Int, peak: Int) {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Int {
            let line = status.split(separator: "\n").first { $0.hasPrefix(name) } ?? ""
            return Int(line.split(separator: " ").dropFirst().first { !$0.isEmpty } ?? "0") ?? 0
        }
        return (field("VmRSS:"), field("VmHWM:"))
    }
}

/// The suite runs under a sanitizer (`make sanitize` sets `PORTCULLIS_SANITIZER`): shadow
/// memory and quarantined frees make resident-memory bounds meaningless, so tests that bound
/// RSS skip that one check (every other expectation still holds).
/// Latency bounds (a request answered within the Redis command timeout plus a little) stretch
/// by `timeScale`.
/// The 100 MB transfers shrink to 10 MB (`largeBody`): what they prove under a sanitizer is
/// the code path, and at a sanitizer's speed the full size would hold the run for minutes.
enum Sanitizer {
    static let active = ProcessInfo.processInfo.environment["PORTCULLIS_SANITIZER"] != nil
    static let largeBody = active ? 10 << 20 : 100 << 20
    /// Latency bounds stretch by this much: an instrumented gateway runs several times slower.
    static let timeScale = active ? 3.0 : 1.0
}
