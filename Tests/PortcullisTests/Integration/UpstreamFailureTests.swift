import Foundation
import Glibc
import Testing

/// What the client sees when the upstream is down, slow or drops connections.
@Suite struct UpstreamFailureTests {
    @Test func connectFailureIs502WithRequestID() throws {
        let dead = ClosedPort()
        let gateway = try GatewayUnderTest(upstreams: [dead.port])
        let response = try gateway.get("/anything")
        #expect(response.status == 502)
        let requestID = try #require(response.header("X-Request-ID"))
        #expect(response.text == "{\"error\":\"bad_gateway\",\"status\":502,\"request_id\":\"\(requestID)\"}\n")
        #expect(try gateway.metric("portcullis_upstream_errors_total{kind=\"connect_failed\"}") == 1)
    }

    @Test func slowUpstreamIs504() throws {
        let origin = try Origin()
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: "[timeouts]\nupstream_response_head = \"300ms\"\n")
        let started = Date()
        let response = try gateway.get("/slow/3000")
        #expect(response.status == 504)
        #expect(response.text.contains("\"error\":\"gateway_timeout\""))
        #expect(Date().timeIntervalSince(started) < 2.5)
        #expect(try gateway.metric("portcullis_upstream_errors_total{kind=\"response_timeout\"}") == 1)
        #expect(try gateway.get("/slow/10").status == 200)
    }

    @Test(arguments: Transport.allCases) func malformedUpstreamBodyFramingIs502OrACut(_ transport: Transport) throws {
        let origin = try Origin()
        let gateway = try GatewayUnderTest(upstreams: [origin.port], bothTransports: true)
        // Nothing of the response has reached the client yet: it gets a 502, not an empty reply.
        let early = try gateway.client(transport)
        try early.send("GET /badchunk/0 HTTP/1.1\r\nHost: a\r\n\r\n")
        let response = try early.readResponse()
        #expect(response.status == 502 && response.text.contains("bad_gateway"), "\(response.status) \(response.text)")
        #expect(early.isClosedByPeer())
        // 200 KB already went out: the connection is cut, so the body cannot look complete.
        let late = try gateway.client(transport)
        try late.send("GET /badchunk/200 HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(throws: HarnessError.self) { _ = try late.readResponse() }
        #expect(try gateway.metric("portcullis_upstream_errors_total{kind=\"invalid_response\"}") == 2)
    }

    @Test(arguments: Transport.allCases) func interimResponsesAreCapped(_ transport: Transport) throws {
        let origin = try Origin()
        let gateway = try GatewayUnderTest(upstreams: [origin.port], bothTransports: true)
        let client = try gateway.client(transport)
        try client.send("GET /interim/3 HTTP/1.1\r\nHost: a\r\n\r\n")
        for _ in 0..<3 { #expect(try client.readResponse().status == 103) }
        #expect(try client.readResponse().text == "after 3 hints\n")
        let flooded = try gateway.client(transport)
        try flooded.send("GET /interim/1000 HTTP/1.1\r\nHost: a\r\n\r\n")
        var interim = 0
        var final = try flooded.readResponse()
        while final.status == 103 {
            interim += 1
            final = try flooded.readResponse()
        }
        #expect(interim == 8 && final.status == 502, "\(interim) interim responses relayed, then \(final.status)")
    }

    @Test func upstreamClosingWithoutAnswerIs502() throws {
        let origin = try Origin()
        let gateway = try GatewayUnderTest(upstreams: [origin.port])
        #expect(try gateway.get("/drop").status == 502)
    }

    @Test func staleKeepAliveConnectionIsRetriedForIdempotentRequests() throws {
        let origin = try Origin()
        let gateway = try GatewayUnderTest(upstreams: [origin.port], workers: 1)
        let client = try TestClient(port: gateway.port)
        // The origin answers, then drops the next request on that upstream connection unanswered:
        // to the gateway, a pooled connection that died as it was reused.
        try client.send("GET /drop-next HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try client.readResponse().status == 200)
        try client.send("GET /bytes/4 HTTP/1.1\r\nHost: a\r\n\r\n")
        let retried = try client.readResponse()
        #expect(retried.status == 200 && retried.text == "abcd")
        #expect(try gateway.metric("portcullis_upstream_errors_total{kind=\"reset\"}") == 1)

        try client.send("GET /drop-next HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try client.readResponse().status == 200)
        try client.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi")
        #expect(try client.readResponse().status == 502, "a POST must not be replayed")
    }

    @Test func failedServerIsSkippedUntilFailTimeout() throws {
        let origin = try Origin()
        let dead = ClosedPort()
        let gateway = try GatewayUnderTest(upstreams: [dead.port, origin.port], workers: 1)
        // Round robin over a dead and a live server: connect failures move on to the next server,
        // so every request succeeds, and after max_fails the dead one is no longer tried.
        for _ in 0..<10 {
            #expect(try gateway.get("/bytes/1").status == 200)
        }
        #expect(try gateway.metric("portcullis_upstream_errors_total{kind=\"connect_failed\"}") ?? 99 <= 3)
    }

    @Test func slowClientHeadIs408() throws {
        let origin = try Origin()
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: "[timeouts]\nclient_header = \"300ms\"\n")
        let client = try TestClient(port: gateway.port)
        try client.send("GET / HTTP/1.1\r\nHost: a\r\n")
        let response = try client.readResponse()
        #expect(response.status == 408)
        #expect(client.isClosedByPeer())
        let idle = try TestClient(port: gateway.port)
        #expect(idle.isClosedByPeer(), "an idle connection is closed without a response")
    }

    @Test func stalledRequestBodyIs408() throws {
        let origin = try Origin()
        // /echo streams its body here (a buffered body gets its 408 before any response begins).
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: """
            [timeouts]
            client_body_idle = "300ms"

            [[routes]]
            path_prefix = "/echo"
            upstream = "app"
            request_buffer = 0
            """, routesFirst: false)
        // /bytes reads the whole body before answering, so the gateway is still waiting on us.
        let waiting = try TestClient(port: gateway.port)
        try waiting.send("POST /bytes/1 HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nonly part")
        #expect(try waiting.readResponse().status == 408)
        #expect(waiting.isClosedByPeer())
        // /echo answers at once; once the response has started the only option is to close.
        let streaming = try TestClient(port: gateway.port)
        try streaming.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nonly part")
        let started = Date()
        #expect(throws: HarnessError.self) { try streaming.readResponse() }
        #expect(Date().timeIntervalSince(started) < 2, "closed by the body timeout, not by the test's own read timeout")
    }

    @Test func stalledResponseBodyClosesTheConnection() throws {
        let origin = try Origin()
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: "[timeouts]\nupstream_body_idle = \"300ms\"\n")
        let client = try TestClient(port: gateway.port)
        try client.send("GET /stall/1000 HTTP/1.1\r\nHost: a\r\n\r\n")
        let started = Date()
        #expect(throws: HarnessError.self) { try client.readResponse() }
        #expect(Date().timeIntervalSince(started) < 2)
        #expect(gateway.child.output.contains("no response bytes for 300ms"))
    }
}
