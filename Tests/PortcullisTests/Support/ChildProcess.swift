import Foundation
import Glibc

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
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
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
        port = UInt16(bigEndian: address.sin_port)
    }

    deinit { close(fd) }
}

extension Thread {
    /// Waits until the thread's body has returned.
    func waitUntilFinished() {
        while !isFinished { usleep(1000) }
    }
}

/// A child process with its output captured in a temporary file.
final class ChildProcess: @unchecked Sendable {
    let process = Process()
    let logURL: URL

    init(executable: String, arguments: [String], environment: [String: String] = [:]) throws {
        logURL = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-test-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: logURL)
    }

    var pid: Int32 { process.processIdentifier }

    /// Everything the process printed so far.
    var output: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    func send(_ signal: Int32) { kill(pid, signal) }

    /// Waits for the process to end; its exit status, or nil on timeout.
    func waitForExit(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Waits until the output has a line containing `text`; returns the first such line.
    func waitForLine(containing text: String, seconds: Double) -> String? {
        var found: String?
        _ = waitFor(seconds: seconds) {
            found = output.split(separator: "\n").first { $0.contains(text) }.map(String.init)
            return found != nil || !process.isRunning
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
/// The 100 MB transfers shrink to 10 MB (`largeBody`): what they prove under a sanitizer is
/// the code path, and at a sanitizer's speed the full size would hold the run for minutes.
enum Sanitizer {
    static let active = ProcessInfo.processInfo.environment["PORTCULLIS_SANITIZER"] != nil
    static let largeBody = active ? 10 << 20 : 100 << 20
}
