import COpenSSL
import Foundation
import Glibc
@testable import Portcullis
import Testing

/// Zero-downtime binary upgrade through the real binary: `portcullis upgrade` (and SIGUSR2)
/// under steady load on both transports, a WebSocket and slow uploads; what must survive it
/// (session tickets, pushed ACME tokens, systemd's idea of the main pid); and new binaries that
/// fail, hang or do not exist, which must leave the running gateway serving.
@Suite(.serialized) struct UpgradeTests {
    private static let environment = ["PORTCULLIS_ADMIN_TOKEN": GatewayUnderTest.adminToken]

    /// `portcullis upgrade` against `gateway`: its exit status and what it printed.
    private static func upgrade(_ gateway: GatewayUnderTest) throws -> (status: Int32, output: String) {
        let command = try ChildProcess(executable: BuiltProducts.path("portcullis"), arguments: ["upgrade"] + gateway.adminArguments,
                                       environment: environment)
        guard let status = command.waitForExit(seconds: 90) else { throw HarnessError("portcullis upgrade did not end") }
        return (status, command.output)
    }

    /// The pid serving the admin API now (it moves to the new process with the admin socket).
    private static func servingPID(_ gateway: GatewayUnderTest) throws -> Int32 {
        let object = try JSONSerialization.jsonObject(with: Data(try gateway.admin("GET", "/admin/status").body)) as? [String: Any]
        return Int32(object?["pid"] as? Int ?? -1)
    }

    /// Whether `pid` has ended (gone, or a zombie its parent has not reaped yet).
    private static func hasEnded(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
        return stat.split(separator: ")").last?.split(separator: " ").first == "Z"
    }

    /// The last `upgrade failed` line the gateway logged, and whether the process it names
    /// (`(pid N)`) has ended.
    private static func lastFailedUpgrade(_ gateway: GatewayUnderTest) -> (line: String, processEnded: Bool) {
        let line = String(gateway.child.output.split(separator: "\n").last { $0.contains("upgrade failed") } ?? "")
        let pid = Int32(line.split(separator: "(pid ").last?.prefix { $0.isNumber } ?? "") ?? 0
        return (line, pid > 0 && hasEnded(pid))
    }

    /// Stops a gateway process that is not the test's child (started by an upgrade).
    private static func stop(_ pid: Int32, gateway: GatewayUnderTest) {
        kill(pid, SIGTERM)
        if !gateway.child.waitFor(seconds: 30, { hasEnded(pid) }) { kill(pid, SIGKILL) }
    }

    private static func ticket(port: UInt16) throws -> OpaquePointer {
        let client = try TLSTestClient(port: port, options: .init(maxVersion: 0x0303))
        _ = try client.get("/bytes/1")
        return try #require(client.session())
    }

    @Test func tenUpgradesUnderLoadLoseNothing() throws {
        let origin = try Origin()
        let notify = try NotifySocket()
        // The first process holds the WebSocket through all ten rounds while it drains: its drain
        // timeout must outlast the run however slow the machine (under ThreadSanitizer in CI the
        // rounds took over 60 s, the old process closed the WebSocket at its 60 s deadline, and
        // the test failed). A long one costs nothing: a process exits once its last connection
        // is done.
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: "[timeouts]\ndrain = \"600s\"\n", bothTransports: true,
                                           environment: Self.environment.merging(["NOTIFY_SOCKET": notify.name]) { $1 })
        #expect(notify.next()?.hasPrefix("READY=1") == true)
        let session = try Self.ticket(port: gateway.tlsPort)
        defer { SSL_SESSION_free(session) }
        #expect(try gateway.admin("PUT", "/admin/acme/challenges/upgrade-token", body: "upgrade-token.thumbprint").status == 201)

        let load = SteadyLoad(plainPort: gateway.port, tlsPort: gateway.tlsPort)
        try load.start()
        var pids = [gateway.child.pid]
        var readyTimes: [Int] = []
        for round in 1...10 {
            usleep(300_000)
            let before = load.now.requests
            if round == 5 {
                // The signal does what the command does.
                let upgraded = gateway.child.lineCount(containing: "serves, ready after")
                kill(pids.last!, SIGUSR2)
                #expect(gateway.child.waitFor(seconds: 30) { gateway.child.lineCount(containing: "serves, ready after") > upgraded })
            } else {
                let (status, output) = try Self.upgrade(gateway)
                #expect(status == 0, "upgrade \(round): \(output)")
                let answer = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] ?? [:]
                #expect(answer["previous_pid"] as? Int == Int(pids.last!), "\(output)")
                readyTimes.append(answer["ready_ms"] as? Int ?? -1)
            }
            let pid = try Self.servingPID(gateway)
            #expect(!pids.contains(pid), "round \(round): a new process serves")
            // systemd follows the new main process (the old one sends it, being main until then).
            let told = notify.messages(until: "MAINPID=\(pid)")?.last
            #expect(told?.hasPrefix("MAINPID=\(pid)\nREADY=1\nSTATUS=upgraded") == true, "round \(round): \(String(describing: told))")
            pids.append(pid)
            #expect(try TLSTestClient(port: gateway.tlsPort, options: .init(maxVersion: 0x0303, session: session)).sessionReused,
                    "round \(round): a ticket from the first process resumes")
            #expect(load.now.requests > before, "round \(round): traffic flowed")
        }
        usleep(500_000)
        load.stop()
        print("upgrade under load: \(load.summary); ready after \(readyTimes) ms")
        let counts = load.now
        #expect(counts.failures.isEmpty, "\(counts.failures.prefix(10))")
        // Idle keep-alive connections close only after a grace period in which busy clients
        // got their answers with `Connection: close` (a sanitizer can stall a client longer).
        #expect(counts.retries == 0 || Sanitizer.active, "\(load.summary)")
        // The gap this guards against (old process no longer accepting, new workers not yet
        // listening) is checked uninstrumented only: an instrumented new process' start-up holds
        // every client on two busy cores back as long (354 ms seen under AddressSanitizer, 508 ms
        // under ThreadSanitizer) as the gap itself took there (517 ms).
        #expect(Sanitizer.active || counts.longestNewConnection < 0.1, "no accept gap: \(load.summary)")
        // Counts that hold however slow the machine is: every round lasts 0.3 s at least.
        #expect(counts.webSocketEchoes > 20 && counts.webSocketClosedNormally, "\(load.summary)")
        #expect(counts.uploads >= 2, "\(load.summary)")
        // Pushed tokens keep what was left of their TTL.
        #expect(try gateway.get("/.well-known/acme-challenge/upgrade-token").text == "upgrade-token.thumbprint")

        // Every replaced process drains and exits; the first one (the test's child) with status 0
        // once its WebSocket has closed.
        #expect(gateway.child.waitForExit(seconds: 30) == 0, "\(gateway.child.output.suffix(2000))")
        for pid in pids.dropFirst().dropLast() {
            #expect(gateway.child.waitFor(seconds: 30) { Self.hasEnded(pid) }, "pid \(pid) drained and exited")
        }
        Self.stop(pids.last!, gateway: gateway)
        #expect(Self.hasEnded(pids.last!))
    }

    /// Clients waiting in the listen queue when the old process stops accepting are served by
    /// the new one: the sockets themselves move, so nothing queued is reset. (A new process
    /// that bound its own sockets with `SO_REUSEPORT` instead would leave these five to the old
    /// sockets, reset when they close: this test fails that way.)
    @Test(arguments: Transport.allCases) func queuedConnectionsAreServedByTheNewProcess(_ transport: Transport) throws {
        let origin = try Origin()
        // One worker that may hold two connections: the next clients wait in the kernel's queue.
        let gateway = try GatewayUnderTest(upstreams: [origin.port], workers: 1, extra: "[limits]\nmax_connections = 2\n", bothTransports: true,
                                           environment: Self.environment)
        let held = try (0..<2).map { _ in try gateway.client(.plain) }
        for client in held {
            try client.send("GET /bytes/1 HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try client.readResponse().status == 200)
        }
        // Queued: the TCP handshake is done by the kernel, the TLS one waits for an accept.
        let queued = try (0..<5).map { _ in try TestClient(port: gateway.port, transport: .plain) }
        for client in queued { try client.send("GET /bytes/7 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n") }
        let tlsStatus = Locked(0)
        let tlsQueued = transport == .tls ? Thread { tlsStatus.withLock { $0 = (try? TLSTestClient(port: gateway.tlsPort).get("/bytes/1").status) ?? -1 } } : nil
        tlsQueued?.start()
        usleep(200_000)
        #expect(!queued[0].isReadable(), "the clients wait in the queue")
        let (status, output) = try Self.upgrade(gateway)
        #expect(status == 0, "\(output)")
        for client in queued {
            let response = try client.readResponse()
            #expect(response.status == 200 && response.body.count == 7)
        }
        tlsQueued?.waitUntilFinished()
        #expect(tlsQueued == nil || tlsStatus.withLock { $0 } == 200, "the TLS client waiting in the queue was served")
        let pid = try Self.servingPID(gateway)
        #expect(gateway.child.waitForExit(seconds: 15) == 0)
        Self.stop(pid, gateway: gateway)
        withExtendedLifetime(held) {}
    }

    /// A new worker count: the old sockets are shared out (none is closed, so nothing queued is
    /// lost); a socket several old workers shared is taken once.
    @Test func aNewWorkerCountKeepsEverySocket() throws {
        let origin = try Origin()
        let gateway = try GatewayUnderTest(upstreams: [origin.port], workers: 2, environment: Self.environment)
        var pids = [gateway.child.pid]
        for workers in [3, 1, 4] {
            try GatewayUnderTest.config(upstreams: [origin.port], workers: workers, extra: "").write(to: gateway.configURL, atomically: true, encoding: .utf8)
            let (status, output) = try Self.upgrade(gateway)
            #expect(status == 0, "\(output)")
            #expect(gateway.child.lineCount(containing: "http://127.0.0.1:\(gateway.port): 2 socket(s) from the previous process") == pids.count,
                    "\(gateway.child.output)")
            for _ in 0..<20 { #expect(try gateway.get("/bytes/2").status == 200) }
            pids.append(try Self.servingPID(gateway))
        }
        #expect(gateway.child.waitForExit(seconds: 15) == 0)
        Self.stop(pids.last!, gateway: gateway)
    }

    /// Without Redis the rate-limit table is local: it is handed over, so an upgrade gives no
    /// client a fresh budget (8 of 10 spent before it over plain HTTP, 2 left after it over TLS).
    @Test func localRateLimitCountsSurvive() throws {
        let origin = try Origin()
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: bytesRateLimitRule(name: "bytes", limit: 10, mode: "strict", key: "ip"),
                                           bothTransports: true, environment: Self.environment)
        for _ in 0..<8 { #expect(try gateway.get("/bytes/1").status == 200) }
        let (status, output) = try Self.upgrade(gateway)
        #expect(status == 0, "\(output)")
        #expect(gateway.child.output.contains("local rate-limit counter(s)") && !gateway.child.output.contains(" 0 local rate-limit"))
        let statuses = try (0..<3).map { _ in try TLSTestClient(port: gateway.tlsPort).get("/bytes/1").status }
        #expect(statuses == [200, 200, 429], "\(statuses)")
        let pid = try Self.servingPID(gateway)
        #expect(gateway.child.waitForExit(seconds: 15) == 0)
        Self.stop(pid, gateway: gateway)
    }

    /// A new binary that exits, hangs or is missing: the running gateway keeps serving, the
    /// command says why (exit status 1), the failed process is gone. While an upgrade is under
    /// way a second one and blocklist changes are refused. A good binary then takes over.
    @Test func aFailedUpgradeLeavesTheGatewayServing() throws {
        let origin = try Origin()
        let installed = try InstalledBinary()
        defer { installed.remove() }
        let binary = installed.path
        let install = installed.install
        // Short, so the hung binary is stopped soon; an instrumented new process on two busy
        // cores took up to 6.8 s to become ready (ThreadSanitizer).
        let timeout = Sanitizer.active ? 15 : 2
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: "[timeouts]\nupgrade = \"\(timeout)s\"\n",
                                           environment: Self.environment, executable: binary)
        let original = gateway.child.pid
        func stillServes() throws {
            #expect(try gateway.get("/bytes/3").status == 200)
            #expect(try Self.servingPID(gateway) == original)
        }

        try install(Data("#!/bin/sh\necho 'broken build' >&2\nexit 3\n".utf8))
        var (status, output) = try Self.upgrade(gateway)
        #expect(status == 1 && output.contains("exited with status 3 before it was ready") && output.contains("keeps serving"), "\(output)")
        try stillServes()

        // Hangs: stopped at the timeout; meanwhile a second upgrade and blocklist changes wait.
        try install(Data("#!/bin/sh\nexec sleep 30\n".utf8))
        let started = gateway.child.lineCount(containing: "upgrade: starting")
        let hanging = Thread { _ = try? Self.upgrade(gateway) }
        hanging.start()
        #expect(gateway.child.waitFor(seconds: 5) { gateway.child.lineCount(containing: "upgrade: starting") > started })
        (status, output) = try Self.upgrade(gateway)
        #expect(status == 1 && output.contains("an upgrade is already in progress"), "\(output)")
        let blocked = try gateway.admin("POST", "/admin/blocklist", body: #"{"cidr": "192.0.2.1"}"#)
        #expect(blocked.status == 503 && blocked.text.contains("upgrade_in_progress"), "\(blocked.text)")
        let pushed = try gateway.admin("PUT", "/admin/acme/challenges/late", body: "late.thumbprint")
        #expect(pushed.status == 503 && pushed.header("Retry-After") == "1", "\(pushed.text)")
        hanging.waitUntilFinished()
        let stopped = Self.lastFailedUpgrade(gateway)
        #expect(stopped.line.contains("did not become ready within \(timeout) s"), "\(stopped.line)")
        #expect(stopped.processEnded, "the hung process was stopped: \(stopped.line)")
        try stillServes()
        #expect(try gateway.admin("POST", "/admin/blocklist", body: #"{"cidr": "192.0.2.1"}"#).status == 201, "changes are taken again")

        try FileManager.default.removeItem(atPath: binary)
        defer { try? install(InstalledBinary.portcullis()) }
        (status, output) = try Self.upgrade(gateway)
        #expect(status == 1 && (output.contains("was stopped") || output.contains("cannot start")), "\(output)")
        try stillServes()

        // A configuration the new binary refuses: the command reads the file too and says so;
        // through the API the new process' reason comes back.
        try install(try InstalledBinary.portcullis())
        let good = try String(contentsOf: gateway.configURL, encoding: .utf8)
        try (good + "\n[bogus]\n").write(to: gateway.configURL, atomically: true, encoding: .utf8)
        (status, output) = try Self.upgrade(gateway)
        #expect(status == 1 && output.contains("bogus: unknown key"), "\(output)")
        let refused = try gateway.admin("POST", "/admin/upgrade")
        #expect(refused.status == 500 && refused.text.contains("exited with status 1 before it was ready: invalid configuration")
                && refused.text.contains("bogus"), "\(refused.text)")
        try stillServes()

        try good.write(to: gateway.configURL, atomically: true, encoding: .utf8)
        (status, output) = try Self.upgrade(gateway)
        #expect(status == 0, "\(output)")
        let pid = try Self.servingPID(gateway)
        #expect(pid != original)
        #expect(try gateway.get("/bytes/3").status == 200)
        #expect(gateway.child.waitForExit(seconds: 15) == 0)
        Self.stop(pid, gateway: gateway)
    }

    /// SIGTERM while a new binary is starting: the new process is stopped (it must not outlive
    /// the service) and the gateway drains and exits as usual.
    @Test func stoppingDuringAnUpgradeStopsTheNewProcess() throws {
        let origin = try Origin()
        let installed = try InstalledBinary()
        defer { installed.remove() }
        let gateway = try GatewayUnderTest(upstreams: [origin.port], environment: Self.environment, executable: installed.path)
        try installed.install(Data("#!/bin/sh\nexec sleep 30\n".utf8))
        let upgrading = Thread { _ = try? Self.upgrade(gateway) }
        upgrading.start()
        // The hung binary runs (the gateway's child is `sleep`); then the real binary goes back at
        // the path: LeakSanitizer reads it to name what the gateway leaves at exit (its
        // suppressions go by function name).
        let pid = gateway.child.pid
        #expect(gateway.child.waitFor(seconds: 10) {
            let children = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
            return children.split(separator: " ").contains { child in
                (try? String(contentsOfFile: "/proc/\(child)/comm", encoding: .utf8))?.hasPrefix("sleep") == true
            }
        })
        try installed.install(InstalledBinary.portcullis())
        gateway.child.send(SIGTERM)
        #expect(gateway.child.waitForExit(seconds: 15) == 0)
        upgrading.waitUntilFinished()
        let stopped = Self.lastFailedUpgrade(gateway)
        #expect(stopped.line.contains("the gateway was told to stop"), "\(gateway.child.output)")
        #expect(stopped.processEnded, "the hung process was stopped: \(stopped.line)")
    }
}

/// A copy of the `portcullis` binary in a directory of its own, that a test replaces the way
/// packages do: a new file renamed over the path (the running process keeps its inode).
private struct InstalledBinary {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-upgrade-\(UUID().uuidString)")
    var path: String { directory.appendingPathComponent("portcullis").path }

    init() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try install(Self.portcullis())
    }

    static func portcullis() throws -> Data { try Data(contentsOf: URL(fileURLWithPath: BuiltProducts.path("portcullis"))) }

    func install(_ contents: Data) throws {
        let staged = path + ".new"
        try contents.write(to: URL(fileURLWithPath: staged))
        chmod(staged, 0o755)
        guard rename(staged, path) == 0 else { throw HarnessError("rename \(staged): \(String(cString: strerror(errno)))") }
    }

    /// Removes the directory (the running binary's inode lives on until it exits).
    func remove() { try? FileManager.default.removeItem(at: directory) }
}
