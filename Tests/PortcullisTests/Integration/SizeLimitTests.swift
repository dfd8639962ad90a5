import Foundation
import Glibc
import Testing

/// Request body limits, per route with a default: 413 before the body is read, or when a
/// chunked body passes the limit; over plain HTTP and TLS.
@Suite struct SizeLimitTests {
    let origin: Origin
    let gateway: GatewayUnderTest

    init() throws {
        origin = try Origin()
        gateway = try GatewayUnderTest(upstreams: [origin.port], extra: """
            [limits]
            max_body = "1KB"

            [[routes]]
            path_prefix = "/echo"
            upstream = "app"
            max_body = "8KB"
            allow_http = true
            """, bothTransports: true, routesFirst: false)
    }

    private func post(_ path: String, body: Int, expectContinue: Bool = false, over transport: Transport) throws -> (TestResponse, TestClient) {
        let client = try gateway.client(transport)
        let expect = expectContinue ? "Expect: 100-continue\r\n" : ""
        try client.send("POST \(path) HTTP/1.1\r\nHost: a\r\nContent-Length: \(body)\r\n\(expect)\r\n")
        if !expectContinue { try? client.send(String(repeating: "x", count: body)) }
        return (try client.readResponse(), client)
    }

    @Test(arguments: Transport.allCases) func contentLengthOverTheLimitNeverReachesTheUpstream(_ transport: Transport) throws {
        let before = try origin.stats().requests
        let (response, client) = try post("/bytes/1", body: 2000, over: transport)
        #expect(response.status == 413)
        #expect(response.text.contains("\"error\":\"request_too_large\""))
        #expect(client.isClosedByPeer())
        let (withExpect, _) = try post("/bytes/1", body: 2000, expectContinue: true, over: transport)
        #expect(withExpect.status == 413, "refused instead of 100 Continue")
        #expect(try origin.stats().requests == before, "nothing reached the origin")
    }

    @Test(arguments: Transport.allCases) func routesHaveTheirOwnLimit(_ transport: Transport) throws {
        #expect(try post("/echo", body: 5000, over: transport).0.status == 200)
        #expect(try post("/echo", body: 9000, over: transport).0.status == 413)
        #expect(try post("/bytes/1", body: 1000, over: transport).0.status == 200)
    }

    @Test(arguments: Transport.allCases) func chunkedBodyIsCutWhenItPassesTheLimit(_ transport: Transport) throws {
        let client = try gateway.client(transport)
        // One write: the outcome must not hang on when the client's later writes come (over TLS a
        // write that fails after the gateway's linger would also lose the 413 already received).
        try client.send("POST /bytes/1 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + String(repeating: "200\r\n" + String(repeating: "y", count: 512) + "\r\n", count: 4))
        let response = try client.readResponse()
        #expect(response.status == 413)
        let small = try gateway.client(transport)
        try small.send("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" + String(repeating: "z", count: 1024) + "\r\n0\r\n\r\n")
        let echoed = try small.readResponse()
        #expect(echoed.status == 200 && echoed.body.count == 1024)
    }
}
