import Foundation
import Glibc
import Testing

/// What one client, and all clients together, may hold: `max_connections_per_ip` at accept
/// (allow entries exempt), and `max_connections` for the process, where accepting stops without
/// spinning and resumes as connections close.
@Suite struct ConnectionLimitTests {
    let origin: Origin

    init() throws {
        origin = try Origin()
    }

    private func served(_ client: TestClient) throws -> Bool {
        try client.send("GET /bytes/10 HTTP/1.1\r\nHost: a\r\n\r\n")
        return try client.readResponse().status == 200
    }

    @Test func oneAddressHoldsAtMostItsShare() throws {
        let allowlist = FileManager.default.temporaryDirectory.appendingPathComponent("allow-\(UUID().uuidString).txt")
        try "allow 127.0.0.3\n".write(to: allowlist, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: allowlist) }
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: """
            [limits]
            max_connections_per_ip = 5

            [blocklist]
            file = "\(allowlist.path)"
            """, bothTransports: true)
        var held: [TestClient] = []
        for index in 0..<5 {
            let client = try TestClient(port: gateway.port(for: index % 2 == 0 ? .plain : .tls), transport: index % 2 == 0 ? .plain : .tls)
            #expect(try served(client))
            held.append(client)
        }
        let sixth = try TestClient(port: gateway.port)
        #expect(sixth.isClosedByPeer(), "the sixth connection from one address is closed at accept")
        #expect(try served(TestClient(port: gateway.port, source: "127.0.0.2")), "another address is not affected")
        let exempt = try (0..<8).map { _ in try TestClient(port: gateway.port, source: "127.0.0.3") }
        #expect(try exempt.allSatisfy { try served($0) }, "allowlisted addresses are exempt")
        held.removeFirst()
        #expect(gateway.child.waitFor(seconds: 5) { (try? self.served(TestClient(port: gateway.port))) == true }, "a closed connection frees its place")
        #expect(try gateway.metric("portcullis_connections_over_address_limit_total") ?? 0 >= 1)
    }

    @Test func atMaxConnectionsAcceptingWaitsWithoutSpinning() throws {
        let gateway = try GatewayUnderTest(upstreams: [origin.port], workers: 1, extra: """
            [limits]
            max_connections = 4
            max_connections_per_ip = 0

            [timeouts]
            client_header = "60s"
            """)
        var held = try (0..<4).map { _ in try TestClient(port: gateway.port) }
        let waiting = try TestClient(port: gateway.port, timeoutSeconds: 3)
        try waiting.send("GET /bytes/10 HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(gateway.child.waitForLine(containing: "max_connections 4 reached", seconds: 5) != nil)
        let before = gateway.child.cpuSeconds()
        usleep(1_000_000)
        #expect(gateway.child.cpuSeconds() - before < 0.1, "no busy loop at the limit")
        #expect(!waiting.isReadable(), "the fifth waits in the backlog, not refused")
        held.removeFirst()
        let response = try waiting.readResponse()
        #expect(response.status == 200, "served once a connection closed")
        #expect(gateway.child.lineCount(containing: "max_connections 4 reached") == 1, "one log line per episode")
        #expect(gateway.child.output.contains("file descriptors: "))
    }
}
