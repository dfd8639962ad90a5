import Foundation
import Glibc
import Testing

/// Clients that hold the gateway's resources by being slow: a body trickled in, a body that
/// never ends, a reader that stops reading. Each is cut within its limit, over plain HTTP and
/// TLS, while a normal client is served.
@Suite struct SlowClientTests {
    let origin: Origin
    let gateway: GatewayUnderTest

    init() throws {
        origin = try Origin()
        gateway = try GatewayUnderTest(upstreams: [origin.port], extra: """
            [timeouts]
            client_body_min_rate = "1KB"
            client_body_rate_period = "1s"
            client_body_total = "3s"

            [limits]
            max_body = "10MB"
            """, bothTransports: true)
    }

    /// Sends `pieces` pieces of `size` bytes, `interval` apart, as the body of a 10 MB upload,
    /// and returns the gateway's answer and when it came.
    private func trickle(over transport: Transport, size: Int, interval: useconds_t, pieces: Int) throws -> (Int, TimeInterval) {
        let client = try gateway.client(transport, timeoutSeconds: 10)
        let started = Date()
        try client.send("POST /digest HTTP/1.1\r\nHost: a\r\nContent-Length: 10000000\r\n\r\n")
        for _ in 0..<pieces {
            guard !client.isReadable(), (try? client.send(String(repeating: "s", count: size))) != nil else { break }
            usleep(interval)
        }
        let response = try client.readResponse()
        return (response.status, Date().timeIntervalSince(started))
    }

    @Test(arguments: Transport.allCases) func aTrickledBodyIsCutAtTheMinimumRate(_ transport: Transport) throws {
        // 10 bytes every 100 ms: 100 B/s, far under 1 KB/s. The idle timer alone never fires.
        let (status, elapsed) = try trickle(over: transport, size: 10, interval: 100_000, pieces: 80)
        #expect(status == 408)
        #expect(elapsed >= 0.9 && elapsed < 2.5, "cut after the first 1 s period, took \(elapsed) s")
    }

    @Test(arguments: Transport.allCases) func aSteadyBodyIsCutAtTheTotalLimit(_ transport: Transport) throws {
        // 2 KB every 250 ms: 8 KB/s passes every rate check, but the body may take 3 s in all.
        let (status, elapsed) = try trickle(over: transport, size: 2048, interval: 250_000, pieces: 40)
        #expect(status == 408)
        #expect(elapsed >= 2.9 && elapsed < 4.5, "cut at the 3 s total, took \(elapsed) s (status \(status))")
    }

    /// A client that asks for 50 MB and stops reading is closed once it has taken nothing for
    /// `client_send_idle` (1 s here); the gateway does not hold the response (or its upstream).
    @Test(arguments: Transport.allCases) func aReaderThatStopsReadingIsClosed(_ transport: Transport) throws {
        // A gateway of its own: the open-connection count below is this test's alone.
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: "[timeouts]\nclient_send_idle = \"1s\"\n", bothTransports: true)
        let client = try TestClient(port: gateway.port(for: transport), transport: transport, timeoutSeconds: 5, receiveBufferBytes: 4096)
        try client.send("GET /bytes/50000000 HTTP/1.1\r\nHost: a\r\n\r\n")
        usleep(2_500_000)
        var received = 0
        var buffer = [UInt8](repeating: 0, count: 65536)
        let started = Date()
        while true {
            let count = buffer.withUnsafeMutableBytes { client.receive(into: $0.baseAddress!, count: $0.count) }
            if count <= 0 { break }
            received += count
        }
        #expect(received < 10_000_000, "cut long before the end: \(received) bytes")
        #expect(Date().timeIntervalSince(started) < 4, "the connection was already closed, not timed out by the test")
        #expect(gateway.child.waitFor(seconds: 5) { (try? gateway.metric("portcullis_active_connections")) == 0 })
        #expect(try gateway.get("/bytes/10").status == 200)
    }

    @Test(arguments: Transport.allCases) func aFastUploadIsUntouched(_ transport: Transport) throws {
        let client = try gateway.client(transport)
        let body = String(repeating: "f", count: 3_000_000)
        try client.send("POST /digest HTTP/1.1\r\nHost: a\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body)
        let response = try client.readResponse()
        #expect(response.status == 200 && response.text.hasPrefix("bytes=3000000 "))
    }
}
