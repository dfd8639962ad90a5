import Foundation
import Glibc
import Testing

/// The proxy path through the real binary, in front of the real demo origin. Every test that
/// moves a body runs over plain HTTP and over TLS (`Transport`).
@Suite struct ProxyTests {
    let origin: Origin
    let gateway: GatewayUnderTest

    init() throws {
        origin = try Origin()
        gateway = try GatewayUnderTest(upstreams: [origin.port], bothTransports: true)
    }

    @Test func forwardsWithRewrittenHeaders() throws {
        let client = try TestClient(port: gateway.port)
        try client.send("GET /headers?q=1 HTTP/1.1\r\nHost: shop.example\r\nX-Forwarded-For: 198.51.100.7\r\nX-Real-IP: 6.6.6.6\r\nConnection: keep-alive, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\nX-Keep: yes\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.status == 200)
        let seen = response.text
        #expect(seen.hasPrefix("GET /headers?q=1 HTTP/1.1\r\n"))
        #expect(seen.contains("Host: shop.example\r\n"))
        #expect(seen.contains("X-Keep: yes\r\n"))
        #expect(seen.contains("X-Forwarded-For: 198.51.100.7, 127.0.0.1\r\n"))
        #expect(seen.contains("X-Real-IP: 127.0.0.1\r\n"))
        #expect(seen.contains("X-Forwarded-Proto: http\r\n"))
        #expect(seen.contains("X-Forwarded-Host: shop.example\r\n"))
        #expect(seen.contains("X-Forwarded-Port: \(gateway.port)\r\n"))
        #expect(!seen.contains("X-Hop") && !seen.contains("Keep-Alive") && !seen.contains("6.6.6.6"))
        let requestID = try #require(response.header("X-Request-ID"))
        #expect(requestID.count == 32 && requestID.allSatisfy(\.isHexDigit))
        #expect(seen.contains("X-Request-ID: \(requestID)\r\n"))
    }

    @Test func keepsAWellFormedRequestIDAndReplacesABadOne() throws {
        let kept = try gateway.get("/headers", headers: ["X-Request-ID": "trace-42"])
        #expect(kept.header("X-Request-ID") == "trace-42")
        #expect(kept.text.contains("X-Request-ID: trace-42\r\n"))
        let replaced = try gateway.get("/headers", headers: ["X-Request-ID": String(repeating: "x", count: 200)])
        #expect(replaced.header("X-Request-ID")?.count == 32)
    }

    @Test func reusesUpstreamConnections() throws {
        let before = try origin.stats().connections
        let client = try TestClient(port: gateway.port)
        for index in 0..<50 {
            try client.send("GET /bytes/\(index) HTTP/1.1\r\nHost: a\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 200 && response.body.count == index)
        }
        for _ in 0..<20 {
            #expect(try gateway.get("/bytes/10").status == 200)
        }
        // 70 requests; at most one upstream connection per worker (2), plus our own /stats call.
        let opened = try origin.stats().connections - before
        #expect(opened <= 3, "opened \(opened) upstream connections for 70 requests")
    }

    @Test(arguments: Transport.allCases) func pipelinedResponsesComeBackInOrder(_ transport: Transport) throws {
        let client = try gateway.client(transport)
        let sizes = [5, 3000, 0, 70000, 1, 12, 100000, 7]
        try client.send(sizes.map { "GET /bytes/\($0) HTTP/1.1\r\nHost: a\r\n\r\n" }.joined())
        for size in sizes {
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.body.count == size)
        }
    }

    @Test(arguments: Transport.allCases) func chunkedBothWays(_ transport: Transport) throws {
        let client = try gateway.client(transport)
        let pieces = ["hello ", String(repeating: "x", count: 70000), " world"]
        var request = "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        for piece in pieces { request += String(piece.utf8.count, radix: 16) + ";note=1\r\n" + piece + "\r\n" }
        request += "0\r\nX-Trailer: dropped\r\n\r\n"
        try client.send(request)
        let response = try client.readResponse()
        #expect(response.status == 200)
        #expect(response.wasChunked)
        #expect(response.text == pieces.joined())
        // The next request on the same connection still works: framing stayed in sync.
        try client.send("GET /chunked/12345 HTTP/1.1\r\nHost: a\r\n\r\n")
        let chunked = try client.readResponse()
        #expect(chunked.wasChunked && chunked.body.count == 12345)
        #expect(chunked.body.prefix(3) == [97, 98, 99])
    }

    @Test(arguments: Transport.allCases) func contentLengthBodyAndHTTP10Client(_ transport: Transport) throws {
        let client = try gateway.client(transport)
        try client.send("POST /echo HTTP/1.0\r\nContent-Length: 11\r\n\r\nhello there")
        let response = try client.readResponse()
        #expect(response.status == 200)
        #expect(!response.wasChunked)
        #expect(response.text == "hello there")
        #expect(client.isClosedByPeer())
    }

    /// An HTTP/1.0 client reads neither chunks nor interim heads (`ResponseEncoder`): a body of
    /// unknown length ends with the connection, 103s stay with the gateway, and a known length
    /// keeps a `Connection: keep-alive` connection open, saying so.
    @Test(arguments: Transport.allCases) func http10ClientGetsNoChunksAndNoInterimHeads(_ transport: Transport) throws {
        let expected = try TestClient.get(port: origin.port, "/chunked/70000").body
        let unknownLength = try gateway.client(transport)
        try unknownLength.send("GET /chunked/70000 HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n")
        let response = try unknownLength.readResponse()
        #expect(response.status == 200 && !response.wasChunked && response.header("Connection") == "close")
        #expect(response.body == expected)
        #expect(unknownLength.isClosedByPeer())

        let hinted = try gateway.client(transport)
        try hinted.send("GET /interim/3 HTTP/1.0\r\nHost: a\r\n\r\n")
        let final = try hinted.readResponse()
        #expect(final.status == 200 && final.text == "after 3 hints\n", "\(final.status)")

        let kept = try gateway.client(transport)
        for (path, body) in [("/bytes/3", "abc"), ("/bytes/4", "abcd")] {
            try kept.send("GET \(path) HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n")
            let answer = try kept.readResponse()
            #expect(answer.text == body && answer.header("Connection") == "keep-alive")
        }
    }

    @Test(arguments: Transport.allCases) func closeDelimitedUpstreamBecomesChunked(_ transport: Transport) throws {
        let client = try gateway.client(transport)
        try client.send("GET /close/5000 HTTP/1.1\r\nHost: a\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.status == 200 && response.wasChunked && response.body.count == 5000)
    }

    @Test(arguments: Transport.allCases) func headRequestHasNoBody(_ transport: Transport) throws {
        let client = try gateway.client(transport)
        try client.send("HEAD /bytes/500 HTTP/1.1\r\nHost: a\r\n\r\n")
        let response = try client.readResponse(head: true)
        #expect(response.status == 200)
        #expect(response.header("Content-Length") == "500")
        try client.send("GET /bytes/3 HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try client.readResponse().text == "abc")
    }

    @Test(arguments: Transport.allCases) func noContentAndNotModified(_ transport: Transport) throws {
        let client = try gateway.client(transport)
        for status in [204, 304] {
            try client.send("GET /status/\(status) HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try client.readResponse().status == status)
        }
        try client.send("GET /bytes/2 HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try client.readResponse().text == "ab")
    }

    @Test(arguments: Transport.allCases) func expectContinue(_ transport: Transport) throws {
        let client = try gateway.client(transport)
        try client.send("PUT /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        let interim = try client.readResponse()
        #expect(interim.status == 100)
        try client.send("data")
        let response = try client.readResponse()
        #expect(response.status == 200 && response.text == "data")
    }

    @Test(arguments: Transport.allCases) func webSocketEcho(_ transport: Transport) throws {
        let client = try gateway.client(transport)
        try client.send("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        let handshake = try client.readResponse(head: true)
        #expect(handshake.status == 101)
        #expect(handshake.header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(handshake.header("Upgrade")?.lowercased() == "websocket")
        for message in ["hello", String(repeating: "w", count: 300)] {
            let payload = Array(message.utf8)
            let mask: [UInt8] = [1, 2, 3, 4]
            var frame: [UInt8] = [0x81]
            frame += payload.count < 126 ? [0x80 | UInt8(payload.count)] : [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
            frame += mask + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
            try client.send(frame)
            let header = payload.count < 126 ? 2 : 4
            var received: [UInt8] = []
            while received.count < header + payload.count {
                var chunk = [UInt8](repeating: 0, count: 4096)
                let count = chunk.withUnsafeMutableBytes { client.receive(into: $0.baseAddress!, count: $0.count) }
                guard count > 0 else { break }
                received += chunk[0..<count]
            }
            #expect(received.first == 0x81)
            #expect(Array(received.dropFirst(header)) == payload)
        }
    }

    @Test(arguments: Transport.allCases) func refusesMalformedRequestsAndCloses(_ transport: Transport) throws {
        let cases: [(String, Int)] = [
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nX: a\r\n\r\n", 400),
            ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
            ("GET /\(String(repeating: "a", count: 9000)) HTTP/1.1\r\nHost: a\r\n\r\n", 414),
            ("GET / HTTP/1.1\r\nHost: a\r\n" + String(repeating: "X-Big: \(String(repeating: "b", count: 1000))\r\n", count: 40) + "\r\n", 431),
            ("CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", 405),
            ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        ]
        for (raw, status) in cases {
            let client = try gateway.client(transport)
            try client.send(raw)
            let response = try client.readResponse()
            #expect(response.status == status, "\(raw.prefix(60))")
            #expect(response.header("Content-Type") == "application/json")
            #expect(response.text.contains("\"request_id\":\"\(response.header("X-Request-ID") ?? "?")\""))
            if status != 405 { #expect(client.isClosedByPeer(), "\(raw.prefix(60)) must close the connection") }
        }
        #expect(try gateway.metric("portcullis_responses_total{class=\"4xx\"}") ?? 0 >= 6)
    }
}
