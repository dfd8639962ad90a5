import Foundation
import Glibc

/// The demo origin (`portcullis-origin`) as a child process on a free port.
final class Origin: @unchecked Sendable {
    let child: ChildProcess
    let port: UInt16

    init(name: String = "origin") throws {
        let port = TestPorts.next()
        child = try ChildProcess(executable: BuiltProducts.path("portcullis-origin"),
                                 arguments: ["--port", String(port), "--name", name])
        self.port = port
        guard child.waitFor(seconds: 10, { child.output.contains("listening on") }) else {
            throw HarnessError("origin did not start: \(child.output)")
        }
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
    let port: UInt16
    let adminPort: UInt16
    /// The HTTPS listener's port (0 when the gateway has none).
    let tlsPort: UInt16
    let configURL: URL

    /// Starts the gateway in front of `upstreams`; `extra` is appended to the config (timeouts…).
    /// `extra` is appended to the config; with `routesFirst: false` it comes before the catch-all
    /// route instead (for tests that add routes of their own).
    init(upstreams: [UInt16], workers: Int = 2, extra: String = "", adminOptions: String = "", https: Bool = false,
         routesFirst: Bool = true, environment: [String: String]? = nil, waitUntilReady: Bool = true) throws {
        port = TestPorts.next()
        adminPort = TestPorts.next()
        tlsPort = https ? TestPorts.next() : 0
        configURL = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-\(UUID().uuidString).toml")
        try Self.config(port: port, adminPort: adminPort, upstreams: upstreams, workers: workers, extra: extra,
                        adminOptions: adminOptions, tlsPort: tlsPort, routesFirst: routesFirst)
            .write(to: configURL, atomically: true, encoding: .utf8)
        child = try ChildProcess(executable: BuiltProducts.path("portcullis"), arguments: ["run", "--config", configURL.path],
                                 environment: environment ?? ["PORTCULLIS_ADMIN_TOKEN": Self.adminToken])
        if waitUntilReady {
            guard child.waitFor(seconds: 15, { TestClient.canConnect(port: port) && TestClient.canConnect(port: adminPort) }) else {
                throw HarnessError("gateway did not start: \(child.output)")
            }
        }
    }

    deinit {
        try? FileManager.default.removeItem(at: configURL)
    }

    static func config(port: UInt16, adminPort: UInt16, upstreams: [UInt16], workers: Int, extra: String,
                       adminOptions: String = "", tlsPort: UInt16 = 0, routesFirst: Bool = true) -> String {
        let httpsListener = tlsPort == 0 ? "" : "[[listeners]]\naddress = \"127.0.0.1:\(tlsPort)\"\nprotocol = \"https\"\n"
        return """
        [server]
        workers = \(workers)
        log_level = "info"

        [[listeners]]
        address = "127.0.0.1:\(port)"

        \(httpsListener)

        [admin]
        address = "127.0.0.1:\(adminPort)"
        \(adminOptions)

        [[upstreams]]
        name = "app"
        servers = [\(upstreams.map { "\"127.0.0.1:\($0)\"" }.joined(separator: ", "))]

        \(routesFirst ? "" : extra)

        [[routes]]
        upstream = "app"

        \(routesFirst ? extra : "")
        """
    }

    /// Rewrites the configuration file and sends SIGHUP.
    func reload(upstreams: [UInt16], extra: String = "") throws {
        try Self.config(port: port, adminPort: adminPort, upstreams: upstreams, workers: 2, extra: extra)
            .write(to: configURL, atomically: true, encoding: .utf8)
        child.send(SIGHUP)
    }

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
