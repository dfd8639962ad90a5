import Foundation
import Glibc
import Testing

/// Request body limits, per route with a default: 413 before the body is read, or when a
/// chunked body passes the limit.
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
            """, routesFirst: false)
    }

    private func post(_ path: String, body: Int, expectContinue: Bool = false) throws -> (TestResponse, TestClient) {
        let client = try TestClient(port: gateway.port)
        let expect = expectContinue ? "Expect: 100-continue\r\n" : ""
        try client.send("POST \(path) HTTP/1.1\r\nHost: a\r\nContent-Length: \(body)\r\n\(expect)\r\n")
        if !expectContinue { try? client.send(String(repeating: "x", count: body)) }
        return (try client.readResponse(), client)
    }

    @Test func contentLengthOverTheLimitNeverReachesTheUpstream() throws {
        let before = try origin.stats().requests
        let (response, client) = try post("/bytes/1", body: 2000)
        #expect(response.status == 413)
        #expect(response.text.contains("\"error\":\"request_too_large\""))
        #expect(client.isClosedByPeer())
        let (withExpect, _) = try post("/bytes/1", body: 2000, expectContinue: true)
        #expect(withExpect.status == 413, "refused instead of 100 Continue")
        #expect(try origin.stats().requests == before, "nothing reached the origin")
    }

    @Test func routesHaveTheirOwnLimit() throws {
        #expect(try post("/echo", body: 5000).0.status == 200)
        #expect(try post("/echo", body: 9000).0.status == 413)
        #expect(try post("/bytes/1", body: 1000).0.status == 200)
    }

    @Test func chunkedBodyIsCutWhenItPassesTheLimit() throws {
        let client = try TestClient(port: gateway.port)
        try client.send("POST /bytes/1 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in 0..<4 { try? client.send("200\r\n" + String(repeating: "y", count: 512) + "\r\n") }
        let response = try client.readResponse()
        #expect(response.status == 413)
        let small = try TestClient(port: gateway.port)
        try small.send("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" + String(repeating: "z", count: 1024) + "\r\n0\r\n\r\n")
        let echoed = try small.readResponse()
        #expect(echoed.status == 200 && echoed.body.count == 1024)
    }
}
