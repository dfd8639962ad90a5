import Foundation
import Glibc
import Testing

/// An upstream that breaks the exchange in each way it can (`/fault/<kind>` of the demo
/// origin): the client gets the documented 502/504, or a cut connection once the response has
/// begun (a truncated body never looks complete); afterwards no client connection is left open
/// and the pool serves the next requests. Over plain HTTP and TLS; every request accepts gzip.
@Suite struct UpstreamFaultTests {
    enum Outcome: Sendable { case status(Int), cut }

    static let faults: [(String, Outcome)] = [
        ("reset-mid-body", .cut),
        ("garbage-status", .status(502)),
        ("huge-head", .status(502)),
        ("truncated-chunked", .cut),
        ("truncated-chunk-size", .cut),
        ("silent", .status(504)),
        ("close-after-head", .cut),
        // Bodies the gateway gzips whole: nothing was sent yet, so the failure is answered.
        ("truncated-json", .status(502)),
        ("stalled-json", .status(504)),
        ("no-reason", .status(200)),
    ]

    let origin: Origin
    let gateway: GatewayUnderTest

    init() throws {
        origin = try Origin()
        gateway = try GatewayUnderTest(upstreams: [origin.port], extra: "[timeouts]\nupstream_response_head = \"700ms\"\nupstream_body_idle = \"700ms\"\n",
                                       bothTransports: true)
    }

    @Test(arguments: Transport.allCases, faults.map(\.0))
    func eachFaultEndsAsDocumented(_ transport: Transport, _ kind: String) throws {
        let expected = try #require(Self.faults.first { $0.0 == kind }?.1)
        let client = try gateway.client(transport, timeoutSeconds: 5)
        try client.send("GET /fault/\(kind) HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\n")
        let started = Date()
        switch expected {
        case .status(let status):
            let response = try client.readResponse()
            #expect(response.status == status, "\(kind): \(response.status)")
            if status != 200 { #expect(client.isClosedByPeer()) }
        case .cut:
            #expect(throws: HarnessError.self, "\(kind): the body must not look complete") { _ = try client.readResponse() }
        }
        #expect(Date().timeIntervalSince(started) < 3, "\(kind): answered within the limits")
        // The pool keeps working: fresh and reused upstream connections serve the next requests.
        let next = try gateway.client(transport)
        for size in [10, 70000, 0] {
            try next.send("GET /bytes/\(size) HTTP/1.1\r\nHost: a\r\n\r\n")
            let response = try next.readResponse()
            #expect(response.status == 200 && response.body.count == size)
        }
    }

    /// A chunked body cut by the upstream anywhere, inside a chunk or inside a chunk-size line,
    /// goes through the one failure path: counted as a reset, not just dropped.
    @Test(arguments: Transport.allCases)
    func aChunkedBodyCutAnywhereIsCountedAsAReset(_ transport: Transport) throws {
        let gateway = try GatewayUnderTest(upstreams: [origin.port], bothTransports: true)
        for (count, kind) in ["truncated-chunked", "truncated-chunk-size"].enumerated() {
            let client = try gateway.client(transport, timeoutSeconds: 5)
            try client.send("GET /fault/\(kind) HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(throws: HarnessError.self, "\(kind): the body must not look complete") { _ = try client.readResponse() }
            #expect(gateway.child.waitFor(seconds: 3) { (try? gateway.metric("portcullis_upstream_errors_total{kind=\"reset\"}")) == count + 1 },
                    "\(kind) was not counted")
        }
    }

    /// After every fault, every client connection is closed (none leaked).
    @Test func noConnectionOutlivesItsFault() throws {
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: "[timeouts]\nupstream_response_head = \"300ms\"\nupstream_body_idle = \"300ms\"\n")
        for (kind, _) in Self.faults {
            let client = try TestClient(port: gateway.port, timeoutSeconds: 5)
            try client.send("GET /fault/\(kind) HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\n")
            _ = try? client.readResponse()
        }
        #expect(gateway.child.waitFor(seconds: 5) { (try? gateway.metric("portcullis_active_connections")) == 0 })
    }
}
