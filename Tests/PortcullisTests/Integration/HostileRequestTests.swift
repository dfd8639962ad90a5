import Foundation
import Glibc
import Testing

/// Requests shaped to get past the gateway's policy or to confuse the application behind it:
/// path and method variants of a protected endpoint, h2c smuggling, Host confusion, forged
/// `Forwarded`, and a body that passes its limit while streaming. Through the real binary, over
/// plain HTTP and TLS.
@Suite struct HostileRequestTests {
    let origin: Origin
    let gateway: GatewayUnderTest

    init() throws {
        origin = try Origin()
        gateway = try GatewayUnderTest(upstreams: [origin.port], extra: """
            [[rate_limits]]
            name = "auth"
            match = "POST /api/v1/auth/*"
            limit = 7
            window = "1h"

            [[routes]]
            path_prefix = "/api/v1/auth"
            upstream = "app"
            max_body = "2KB"
            allow_http = true

            [[routes]]
            path_prefix = "/digest"
            upstream = "app"
            max_body = "8KB"
            request_buffer = 0
            allow_http = true
            """, bothTransports: true, routesFirst: false)
    }

    private func send(_ request: String, over transport: Transport = .plain) throws -> TestResponse {
        let client = try gateway.client(transport)
        try client.send(request)
        return try client.readResponse()
    }

    /// Every variant that an application framework would route to the login endpoint counts
    /// against the login limit and is held to the login body limit.
    @Test(arguments: Transport.allCases) func pathVariantsHitTheSameLimit(_ transport: Transport) throws {
        let variants = ["/api/v1/auth/login", "/API/v1/auth/login", "/api/v1//auth/login", "/api/v1/%61uth/login",
                        "/api/v1/auth;x/login", "/api/v1/auth", "/Api/V1/Auth/Login/"]
        // Each transport has its own client port but one address: the limit is shared, so count
        // what is left rather than assume a fresh counter.
        var admitted = 0
        for variant in variants {
            let big = try send("POST \(variant) HTTP/1.1\r\nHost: a\r\nContent-Length: 2049\r\n\r\n" + String(repeating: "b", count: 2049), over: transport)
            #expect(big.status == 413, "\(variant): the auth route's body limit applies")
            let response = try send("POST \(variant) HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}", over: transport)
            if response.status == 429 { break }
            admitted += 1
        }
        let last = try send("POST /api/v1/%41UTH//login;jsessionid=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}", over: transport)
        #expect(last.status == 429, "the variants all counted against one limit of 7")
        #expect(admitted <= 7)
    }

    @Test func methodsAreCaseSensitiveAndListed() throws {
        #expect(try send("post /api/v1/auth/login HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}").status == 501)
        #expect(try send("PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n").status == 501)
        let refused = try send("TRACE / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(refused.status == 405 && refused.header("Allow")?.contains("GET") == true)
        #expect(try send("PATCH /headers HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n").status == 200)
    }

    @Test func theUpstreamSeesTheNormalizedPath() throws {
        let response = try send("GET /%68eaders//a;p/%7e%c3%a9?q=%41//b HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(response.status == 200)
        #expect(response.text.hasPrefix("GET /headers/a;p/~%C3%A9?q=%41//b HTTP/1.1\r\n"), "\(response.text.prefix(80))")
        #expect(try send("GET /a%2fb HTTP/1.1\r\nHost: a\r\n\r\n").status == 400)
        #expect(try send("GET /a%5Cb HTTP/1.1\r\nHost: a\r\n\r\n").status == 400)
        #expect(try send("GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n").status == 400)
        #expect(try send("GET /headers#frag HTTP/1.1\r\nHost: a\r\n\r\n").status == 400)
    }

    @Test(arguments: Transport.allCases) func h2cUpgradeIsNeverForwarded(_ transport: Transport) throws {
        let response = try send("GET /headers HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
                                over: transport)
        #expect(response.status == 200, "served as plain HTTP/1.1, never 101")
        #expect(!response.text.lowercased().contains("upgrade") && !response.text.lowercased().contains("http2-settings"))
        let noKey = try send("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", over: transport)
        #expect(noKey.status != 101, "a WebSocket upgrade without Sec-WebSocket-Key is not one")
    }

    @Test func hostComesFromTheAbsoluteFormTarget() throws {
        let response = try send("GET http://a.example/headers HTTP/1.1\r\nHost: b.example\r\n\r\n")
        #expect(response.status == 200)
        #expect(response.text.contains("Host: a.example\r\n") && response.text.contains("X-Forwarded-Host: a.example\r\n"))
        #expect(!response.text.contains("b.example"))
        for host in ["a:65536", "a:", "a:1x", "a:1:2", "[::1"] {
            #expect(try send("GET /headers HTTP/1.1\r\nHost: \(host)\r\n\r\n").status == 400, "Host: \(host)")
        }
        #expect(try send("GET /headers HTTP/1.1\r\nHost: a:65535\r\n\r\n").status == 200)
    }

    /// RFC 9110 §6.6.1: responses carry one `Date`, added to a forwarded response that lacks it
    /// and to the gateway's own answers.
    @Test func responsesAreDated() throws {
        let proxied = try send("GET /bytes/1 HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(proxied.headers.filter { $0.0.lowercased() == "date" }.count == 1)
        #expect(proxied.header("Date")?.hasSuffix(" GMT") == true)
        let refused = try send("GET /a%2fb HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(refused.status == 400 && refused.header("Date") != nil)
    }

    @Test func aForgedForwardedFieldIsRemoved() throws {
        let response = try send("GET /headers HTTP/1.1\r\nHost: a\r\nForwarded: for=6.6.6.6;proto=https\r\n\r\n")
        #expect(response.status == 200 && !response.text.contains("6.6.6.6"))
    }

    /// A streamed chunked body that passes its limit after the exchange began: 413, the client
    /// connection closes, and the upstream connection holding half a body is never reused.
    @Test(arguments: Transport.allCases) func aStreamedBodyOverItsLimitEndsTheExchangeCleanly(_ transport: Transport) throws {
        let client = try gateway.client(transport)
        try client.send("POST /digest HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n" + String(repeating: "y", count: 4096) + "\r\n")
        usleep(200_000)
        try? client.send("1001\r\n" + String(repeating: "z", count: 4097) + "\r\n")
        let response = try client.readResponse()
        #expect(response.status == 413)
        #expect(client.isClosedByPeer())
        // Were the upstream connection pooled, the next request on it would be read as body.
        for _ in 0..<6 {
            let next = try send("POST /digest HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", over: transport)
            #expect(next.status == 200 && next.text.hasPrefix("bytes=3 "))
        }
    }
}
