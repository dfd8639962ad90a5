import Foundation
import Glibc

/// A real `redis-server` on a free loopback port (installed by `make test`), which a test can
/// kill and start again on the same port.
final class RedisServer: @unchecked Sendable {
    let port: UInt16
    private let password: String?
    private let extraArguments: [String]
    private(set) var child: ChildProcess

    /// Starts a server on a free port; with `password`, clients must AUTH. redis-server cannot
    /// report a port of its own choosing, so a free one is picked; if another process takes it
    /// first, redis-server fails to bind (it does not share ports) and another is tried.
    /// `extraArguments`: more redis-server arguments, `{port}` standing for the port.
    init(password: String? = nil, extraArguments: [String] = []) throws {
        self.password = password
        self.extraArguments = extraArguments
        var attempt = 0
        while true {
            attempt += 1
            let candidate = ClosedPort().port
            do {
                child = try Self.start(port: candidate, password: password, extraArguments: extraArguments)
                port = candidate
                return
            } catch where attempt < 5 {
                continue
            }
        }
    }

    var url: String { "redis://127.0.0.1:\(port)" }

    /// A `command_timeout` for gateways in tests that look at routing or accuracy, never at
    /// timeouts (a killed server closes its connections): on two loaded cores, Redis and an
    /// instrumented gateway can miss the 50 ms default, and the dropped connection would send
    /// the counts to the local fallback (CI under ASan: strict mode admitted 624 of 600).
    static let commandTimeoutBeyondStalls = "2s"

    private static func start(port: UInt16, password: String?, extraArguments: [String]) throws -> ChildProcess {
        let executable = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let executable else { throw HarnessError("redis-server is not installed (make test installs it)") }
        let child = try ChildProcess(executable: executable, arguments: ["--port", String(port), "--bind", "127.0.0.1", "--save", "",
                                                                         "--appendonly", "no", "--protected-mode", "no"]
                                                                        + (password.map { ["--requirepass", $0] } ?? [])
                                                                        + extraArguments.map { $0.replacingOccurrences(of: "{port}", with: String(port)) })
        // One that exits (the port was taken after all) is given up at once.
        guard child.waitFor(seconds: 10, { TestClient.canConnect(port: port) || !child.isRunning }), child.isRunning else {
            throw HarnessError("redis-server did not start: \(child.output)")
        }
        return child
    }

    /// Kills the server (as a crash would) and waits until it is gone.
    func kill() {
        child.send(SIGKILL)
        _ = child.waitForExit(seconds: 10)
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing is answered.
    func freeze() { child.send(SIGSTOP) }

    /// Lets a frozen server run again (SIGCONT).
    func thaw() { child.send(SIGCONT) }

    /// Starts a fresh (empty) server on the same port.
    func restart() throws {
        child = try Self.start(port: port, password: password, extraArguments: extraArguments)
    }

    /// Runs one command (inline protocol) and returns the reply's first line.
    func command(_ text: String) throws -> String {
        let client = try TestClient(port: port)
        try client.send(text + "\r\n")
        var reply: [UInt8] = []
        var byte: UInt8 = 0
        while recv(client.fd, &byte, 1, 0) == 1 {
            if byte == 10 { break }
            if byte != 13 { reply.append(byte) }
        }
        return String(decoding: reply, as: UTF8.self)
    }
}

extension RedisServer {
    /// Runs `redis-cli -p <port>` with `arguments` and returns what it printed.
    func cli(_ arguments: [String]) throws -> String {
        try ChildProcess.output(of: "/usr/bin/redis-cli", ["-p", String(port)] + arguments).output
    }

    /// The `event` field of every entry of a stream (`-c`: followed to its node in a cluster).
    func streamEvents(_ stream: String) throws -> [String] {
        try cli(["-c", "--raw", "XRANGE", stream, "-", "+"]).split(separator: "\n").filter { $0.hasPrefix("{") }.map(String.init)
    }
}
