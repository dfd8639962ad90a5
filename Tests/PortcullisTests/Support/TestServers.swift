import Foundation
import Glibc

/// The demo origin (`portcullis-origin`) as a child process on a free port.
final class Origin: @unchecked Sendable {
    let child: ChildProcess
    let port: UInt16

    init(name: String = "origin") throws {
        child = try ChildProcess(executable: BuiltProducts.path("portcullis-origin"), arguments: ["--port", "0", "--name", name])
        // The origin binds port 0 and prints the port it got: no port is picked, released and
        // reused by another process in between.
        guard let line = child.waitForLine(containing: "listening on", seconds: 10),
              let port = line.split(separator: ":").last.flatMap({ UInt16($0) }) else {
            throw HarnessError("origin did not start: \(child.output)")
        }
        self.port = port
    }

    /// `{"connections":N,"requests":M}` from the origin itself.
    func stats() throws -> (connections: Int, requests: Int) {
        let response = try TestClient.get(port: port, "/stats")
        let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Int] ?? [:]
        return (object["connections"] ?? -1, object["requests"] ?? -1)
    }
}

/// The real `portcullis` binary with a generated configuration.
final class GatewayUnderTest: @unchecked Sendable {
    static let adminToken = String(repeating: "t3st", count: 10)
    let child: ChildProcess
    /// The plain-HTTP listener's port, as the gateway reported it (0 if it never started).
    private(set) var port: UInt16 = 0
    private(set) var adminPort: UInt16 = 0
    /// The HTTPS listener's port (0 when the gateway has none).
    private(set) var tlsPort: UInt16 = 0
    let configURL: URL

    /// Starts the gateway in front of `upstreams`. Every listener binds port 0 and the ports are
    /// read from the gateway's startup line. `extra` is appended to the config (timeouts…); with
    /// `routesFirst: false` it comes before the catch-all route instead (for tests that add
    /// routes of their own). `bothTransports` adds an HTTPS listener with a test certificate and
    /// lets the catch-all route answer plain HTTP too, so one gateway serves a test over both.
    /// `fileLimit` starts it under `ulimit -n` (descriptor exhaustion tests). `activated`
    /// sockets are handed over as systemd does (`LISTEN_FDS`, `LISTEN_PID`); `listenAddress`
    /// and `adminAddress` are then the addresses they are bound to. `executable` is the binary
    /// to run (a copy that a test replaces, for upgrades).
    init(upstreams: [UInt16], workers: Int = 2, extra: String = "", adminOptions: String = "", https: Bool = false,
         bothTransports: Bool = false, routesFirst: Bool = true, environment: [String: String]? = nil, waitUntilReady: Bool = true,
         fileLimit: Int? = nil, activated: [Int32] = [], listenAddress: String = "127.0.0.1:0", adminAddress: String = "127.0.0.1:0",
         executable: String = BuiltProducts.path("portcullis")) throws {
        configURL = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-\(UUID().uuidString).toml")
        var extra = extra
        if bothTransports {
            let certificate = try TestCertificates.localhost()
            extra += "\n[[certificates]]\ncert = \"\(certificate.0)\"\nkey = \"\(certificate.1)\"\n"
        }
        try Self.config(upstreams: upstreams, workers: workers, extra: extra, adminOptions: adminOptions, https: https || bothTransports,
                        routeOptions: bothTransports ? "allow_http = true" : "", routesFirst: routesFirst, listenAddress: listenAddress,
                        adminAddress: adminAddress)
            .write(to: configURL, atomically: true, encoding: .utf8)
        let command = [executable, "run", "--config", configURL.path]
        let environment = environment ?? ["PORTCULLIS_ADMIN_TOKEN": Self.adminToken]
        var prelude: [String] = []
        if let fileLimit { prelude.append("ulimit -n \(fileLimit)") }
        // The shell's pid is the gateway's after exec, as systemd sets LISTEN_PID.
        if !activated.isEmpty { prelude.append("export LISTEN_PID=$$ LISTEN_FDS=\(activated.count)") }
        if prelude.isEmpty {
            child = try ChildProcess(executable: command[0], arguments: Array(command.dropFirst()), environment: environment)
        } else {
            // exec keeps the pid: the test watches the gateway itself.
            child = try ChildProcess(executable: "/bin/sh", arguments: ["-c", prelude.joined(separator: " && ") + " && exec \"$0\" \"$@\""] + command,
                                     environment: environment, passing: activated)
        }
        if waitUntilReady {
            guard let line = child.waitForLine(containing: "portcullis started:", seconds: 15) else {
                throw HarnessError("gateway did not start: \(child.output)")
            }
            readPorts(from: line)
        }
    }

    deinit {
        try? FileManager.default.removeItem(at: configURL)
    }

    /// `… listening on http://127.0.0.1:P, https://127.0.0.1:Q, admin on 127.0.0.1:R`.
    private func readPorts(from line: String) {
        func number(after marker: String) -> UInt16 {
            guard let range = line.range(of: marker) else { return 0 }
            return UInt16(line[range.upperBound...].prefix { $0.isNumber }) ?? 0
        }
        port = number(after: "http://127.0.0.1:")
        tlsPort = number(after: "https://127.0.0.1:")
        adminPort = number(after: "admin on 127.0.0.1:")
    }

    static func config(upstreams: [UInt16], workers: Int, extra: String, adminOptions: String = "", https: Bool = false,
                       routeOptions: String = "", routesFirst: Bool = true, listenAddress: String = "127.0.0.1:0",
                       adminAddress: String = "127.0.0.1:0") -> String {
        let httpsListener = https ? "[[listeners]]\naddress = \"127.0.0.1:0\"\nprotocol = \"https\"\n" : ""
        return """
        [server]
        workers = \(workers)
        log_level = "info"

        [[listeners]]
        address = "\(listenAddress)"

        \(httpsListener)

        [admin]
        address = "\(adminAddress)"
        \(adminOptions)

        [[upstreams]]
        name = "app"
        servers = [\(upstreams.map { "\"127.0.0.1:\($0)\"" }.joined(separator: ", "))]

        \(routesFirst ? "" : extra)

        [[routes]]
        upstream = "app"
        \(routeOptions)

        \(routesFirst ? extra : "")
        """
    }

    /// Rewrites the configuration file, sends SIGHUP and waits until the reload is logged.
    func reload(upstreams: [UInt16], extra: String = "") throws {
        try Self.config(upstreams: upstreams, workers: 2, extra: extra).write(to: configURL, atomically: true, encoding: .utf8)
        let reloads = child.output.components(separatedBy: "configuration reloaded").count
        child.send(SIGHUP)
        guard child.waitFor(seconds: 10, { child.output.components(separatedBy: "configuration reloaded").count > reloads }) else {
            throw HarnessError("the reload was not applied: \(child.output)")
        }
    }

    /// The port of the listener for `transport`.
    func port(for transport: Transport) -> UInt16 { transport == .tls ? tlsPort : port }

    /// A connection over `transport`.
    func client(_ transport: Transport, timeoutSeconds: Int = 15) throws -> TestClient {
        try TestClient(port: port(for: transport), transport: transport, timeoutSeconds: timeoutSeconds)
    }

    /// The command-line arguments that point a `portcullis` admin command at this gateway.
    var adminArguments: [String] { ["--config", configURL.path, "--admin", "127.0.0.1:\(adminPort)"] }

    /// One request on a fresh connection.
    func get(_ path: String, headers: [String: String] = [:]) throws -> TestResponse {
        try TestClient.get(port: port, path, headers: headers)
    }

    /// One admin API call with the token (or `token`), on a fresh connection.
    func admin(_ method: String, _ path: String, body: String = "", token: String = adminToken) throws -> TestResponse {
        let client = try TestClient(port: adminPort)
        try client.send("\(method) \(path) HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer \(token)\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        return try client.readResponse()
    }

    /// The value of one metric line (`name{labels}`) from GET /metrics.
    func metric(_ series: String) throws -> Int? {
        let text = String(decoding: try TestClient.get(port: adminPort, "/metrics").body, as: UTF8.self)
        let line = text.split(separator: "\n").first { $0.hasPrefix(series + " ") }
        return line.flatMap { Int($0.split(separator: " ").last ?? "") }
    }
}

/// A failure of the test harness itself.
struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
