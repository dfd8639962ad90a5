import Foundation
import Glibc
import Testing

/// What a plain-HTTP listener does once the gateway also speaks HTTPS: ACME HTTP-01 challenges
/// (webroot files and admin-pushed tokens) and 308 redirects for everything else.
@Suite struct PlainHTTPListenerTests {
    let origin: Origin
    let webroot: URL

    init() throws {
        origin = try Origin()
        webroot = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-acme-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: webroot.appendingPathComponent(".well-known/acme-challenge"), withIntermediateDirectories: true)
    }

    private func gateway(extra: String = "") throws -> GatewayUnderTest {
        let certificates = webroot.appendingPathComponent("certs").path
        return try GatewayUnderTest(upstreams: [origin.port], extra: """
            [tls]
            self_signed_dev = true
            dev_certificate_dir = "\(certificates)"

            [acme]
            webroot = "\(webroot.path)"
            token_ttl = "400ms"

            \(extra)
            """, https: true)
    }

    private func request(_ port: UInt16, _ raw: String) throws -> TestResponse {
        let client = try TestClient(port: port)
        try client.send(raw)
        return try client.readResponse()
    }

    @Test func redirectsToHTTPSKeepingHostPathAndQuery() throws {
        let gateway = try gateway()
        let plain = try request(gateway.port, "GET /a/b?c=d&e HTTP/1.1\r\nHost: shop.example:8080\r\n\r\n")
        #expect(plain.status == 308)
        #expect(plain.header("Location") == "https://shop.example:\(gateway.tlsPort)/a/b?c=d&e")
        #expect(plain.header("Date")?.hasSuffix(" GMT") == true, "RFC 9110 §6.6.1: every 3xx of a server with a clock")
        let ipv6 = try request(gateway.port, "GET /x HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n")
        #expect(ipv6.header("Location") == "https://[::1]:\(gateway.tlsPort)/x")
        let noHost = try request(gateway.port, "GET /y HTTP/1.0\r\n\r\n")
        #expect(noHost.header("Location") == "https://127.0.0.1:\(gateway.tlsPort)/y")
    }

    @Test func redirectPortCanBeTheStandardOne() throws {
        let certificates = webroot.appendingPathComponent("certs").path
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: """
            [tls]
            self_signed_dev = true
            dev_certificate_dir = "\(certificates)"
            redirect_port = 443
            """, https: true)
        let response = try request(gateway.port, "GET /p?q HTTP/1.1\r\nHost: example.com\r\n\r\n")
        #expect(response.header("Location") == "https://example.com/p?q")
    }

    @Test func routesCanAllowPlainHTTP() throws {
        let certificates = webroot.appendingPathComponent("certs").path
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: """
            [tls]
            self_signed_dev = true
            dev_certificate_dir = "\(certificates)"
            [[routes]]
            path_prefix = "/public"
            upstream = "app"
            allow_http = true
            """, https: true, routesFirst: false)
        #expect(try gateway.get("/public/x").status == 404, "proxied: the origin answers 404")
        #expect(try gateway.get("/private").status == 308)
    }

    @Test func servesChallengesFromTheWebroot() throws {
        let gateway = try gateway()
        let token = "tok_-en123"
        try "\(token).thumbprint\n".write(to: webroot.appendingPathComponent(".well-known/acme-challenge/\(token)"), atomically: true, encoding: .utf8)
        let response = try request(gateway.port, "GET /.well-known/acme-challenge/\(token) HTTP/1.1\r\nHost: example.com\r\n\r\n")
        #expect(response.status == 200)
        #expect(response.text == "\(token).thumbprint")
        #expect(response.header("Content-Type") == "text/plain")
        #expect(response.header("Date")?.hasSuffix(" GMT") == true, "RFC 9110 §6.6.1: every 2xx of a server with a clock")
        #expect(try request(gateway.port, "GET /.well-known/acme-challenge/missing HTTP/1.1\r\nHost: a\r\n\r\n").status == 404)
    }

    @Test func refusesTraversalBadTokensAndSymlinks() throws {
        let gateway = try gateway()
        let outside = webroot.appendingPathComponent("secret")
        try "secret".write(to: outside, atomically: true, encoding: .utf8)
        let challenges = webroot.appendingPathComponent(".well-known/acme-challenge")
        try FileManager.default.createSymbolicLink(at: challenges.appendingPathComponent("linked"), withDestinationURL: outside)
        let attempts: [(String, Int)] = [
            ("/.well-known/acme-challenge/../secret", 400),
            ("/.well-known/acme-challenge/%2e%2e/secret", 400),
            ("/.well-known/acme-challenge/a.b", 404),
            ("/.well-known/acme-challenge/a%2Fb", 404),
            ("/.well-known/acme-challenge/", 404),
            ("/.well-known/acme-challenge/linked", 404),
        ]
        for (path, status) in attempts {
            let response = try request(gateway.port, "GET \(path) HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(response.status == status, "\(path)")
            #expect(!response.text.contains("secret"))
        }
    }

    @Test func refusesAChallengeDirectoryThatLeavesTheWebroot() throws {
        let elsewhere = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-elsewhere-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        try "x.y".write(to: elsewhere.appendingPathComponent("escaped"), atomically: true, encoding: .utf8)
        let challenges = webroot.appendingPathComponent(".well-known/acme-challenge")
        try FileManager.default.removeItem(at: challenges)
        try FileManager.default.createSymbolicLink(at: challenges, withDestinationURL: elsewhere)
        let gateway = try gateway()
        #expect(try request(gateway.port, "GET /.well-known/acme-challenge/escaped HTTP/1.1\r\nHost: a\r\n\r\n").status == 404)
    }

    @Test func tokensPushedThroughTheAdminAPI() throws {
        let gateway = try gateway()
        func admin(_ method: String, _ token: String, body: String = "", auth: Bool = true) throws -> TestResponse {
            let authorization = auth ? "Authorization: Bearer \(GatewayUnderTest.adminToken)\r\n" : ""
            return try request(gateway.adminPort, "\(method) /admin/acme/challenges/\(token) HTTP/1.1\r\nHost: a\r\n\(authorization)Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
        }
        func challenge(_ token: String) throws -> TestResponse {
            try request(gateway.port, "GET /.well-known/acme-challenge/\(token) HTTP/1.1\r\nHost: a\r\n\r\n")
        }
        #expect(try admin("PUT", "abc", body: "abc.thumb", auth: false).status == 401)
        #expect(try admin("PUT", "a.b", body: "a.b.thumb").status == 400)
        #expect(try admin("PUT", "abc", body: "other.thumb").status == 400)
        #expect(try admin("PUT", "abc", body: "abc.thumb").status == 201)
        let served = try challenge("abc")
        #expect(served.status == 200 && served.text == "abc.thumb")
        #expect(try admin("DELETE", "abc").status == 204)
        #expect(try challenge("abc").status == 404)
        #expect(try admin("DELETE", "abc").status == 404)
        #expect(try admin("PUT", "short", body: "short.lived").status == 201)
        let pushed = Date()
        #expect(try challenge("short").status == 200)
        #expect(gateway.child.waitFor(seconds: 5) { (try? challenge("short").status) == 404 }, "expired after token_ttl")
        #expect(Date().timeIntervalSince(pushed) >= 0.4, "not before token_ttl")
    }

    @Test func reloadCommandUsesTheAdminAPI() throws {
        let gateway = try gateway()
        let reload = try ChildProcess(executable: BuiltProducts.path("portcullis"), arguments: ["reload"] + gateway.adminArguments,
                                      environment: ["PORTCULLIS_ADMIN_TOKEN": GatewayUnderTest.adminToken])
        #expect(reload.waitForExit(seconds: 10) == 0)
        #expect(reload.output.contains("\"status\":\"reloaded\""))
        let refused = try ChildProcess(executable: BuiltProducts.path("portcullis"), arguments: ["reload"] + gateway.adminArguments,
                                       environment: ["PORTCULLIS_ADMIN_TOKEN": String(repeating: "w", count: 40)])
        #expect(refused.waitForExit(seconds: 10) == 1)
        #expect(refused.output.contains("unauthorized"))
    }
}
