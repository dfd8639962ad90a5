import Foundation
@testable import Portcullis
import Testing

/// The decision phases as a function: a configuration, a peer, a blocklist and the bytes of a
/// request head in; a verdict and what the exchange needs out. No socket, no worker, no binary.
@Suite struct RequestPathTests {
    private static func blocklist(_ entries: [(String, allow: Bool)]) -> IPBlocklist {
        var table = PrefixTable()
        for (cidr, allow) in entries { table.insert(PrefixTable.Entry(cidr: CIDR(cidr)!, allow: allow, expiresAt: 0, reason: 0)) }
        return IPBlocklist(table: table, reasons: [""])
    }

    private static func get(_ path: String, _ fields: String = "") -> String {
        "GET \(path) HTTP/1.1\r\nHost: app.example\r\n\(fields)\r\n"
    }

    @Test func aPlainRequestIsForwardedWithThePeerAsClient() throws {
        var decider = try RequestDecider()
        guard case .forward(let upstream, let body) = decider.decide(Self.get("/x")) else { Issue.record("not forwarded"); return }
        #expect(upstream == 0 && body.max == decider.snapshot.config.maxBody)
        #expect(decider.clientText == "192.0.2.10" && decider.decision.client.address == IPAddress("192.0.2.10")!)
        #expect(!decider.decision.client.peerIsTrustedProxy && decider.rateLimitFields.isEmpty)
    }

    @Test func methodsAndPathsAreRefusedBeforeRouting() throws {
        var decider = try RequestDecider()
        #expect(decider.decide("post /x HTTP/1.1\r\nHost: a\r\n\r\n") == .respond(status: 501), "methods are case-sensitive")
        #expect(decider.decide("PROPFIND /x HTTP/1.1\r\nHost: a\r\n\r\n") == .respond(status: 501))
        #expect(decider.decide("TRACE /x HTTP/1.1\r\nHost: a\r\n\r\n") == .respond(status: 405))
        #expect(decider.decide(Self.get("/a%2Fb")) == .badPath(reason: PathNormalizer.Failure.encodedSlash.reason))
    }

    @Test func theRouteDecidesHeadersGzipAndBodyLimit() throws {
        var decider = try RequestDecider(routes: """
            [[routes]]
            path_prefix = "/api/upload"
            upstream = "app"
            max_body = "2KB"
            gzip = false
            security_headers = "none"
            """)
        let verdict = decider.decide("POST /API//upload/x HTTP/1.1\r\nHost: a\r\nContent-Length: 2049\r\n\r\n")
        #expect(verdict == .tooLarge(length: 2049, limit: 2048), "matched case-insensitively after merging slashes")
        #expect(!decider.decision.routeAllowsGzip && decider.decision.routeResponses != nil)
        guard case .forward(_, let body) = decider.decide("POST /api/upload HTTP/1.1\r\nHost: a\r\nContent-Length: 2048\r\n\r\n") else {
            Issue.record("the limit itself is allowed")
            return
        }
        #expect(body.max == 2048)
        // A request outside that route gets the default route and header policy again.
        _ = decider.decide(Self.get("/other"))
        #expect(decider.decision.routeAllowsGzip)
    }

    @Test func plainHTTPIsRedirectedWhenHTTPSExistsUnlessTheRouteAllowsIt() throws {
        let https = """
            [[listeners]]
            address = "127.0.0.1:18443"
            protocol = "https"
            [tls]
            self_signed_dev = true
            """
        var decider = try RequestDecider(https)
        #expect(decider.decide(Self.get("/x")) == .redirectToHTTPS)
        decider.secure = true
        if case .forward = decider.decide(Self.get("/x")) {} else { Issue.record("HTTPS is forwarded") }
    }

    @Test func theBlocklistAppliesToTheClientBehindATrustedProxy() throws {
        var decider = try RequestDecider("[client_ip]\ntrusted_proxies = [\"10.0.0.0/8\"]")
        decider.blocklist = Self.blocklist([("203.0.113.0/24", allow: false)])
        #expect(decider.decide(Self.get("/x", "X-Forwarded-For: 203.0.113.9\r\n"), peer: "10.1.1.1") == .blocked)
        #expect(decider.clientText == "203.0.113.9" && decider.decision.client.peerIsTrustedProxy)
        // The same field from an untrusted peer is the client's own claim: ignored.
        if case .forward = decider.decide(Self.get("/x", "X-Forwarded-For: 198.51.100.1\r\n"), peer: "192.0.2.10") {} else {
            Issue.record("an untrusted peer's X-Forwarded-For decides nothing")
        }
        #expect(decider.clientText == "192.0.2.10" && !decider.decision.client.peerIsTrustedProxy)
        decider.blocklist = Self.blocklist([("203.0.113.0/24", allow: false), ("203.0.113.9/32", allow: true)])
        if case .forward = decider.decide(Self.get("/x", "X-Forwarded-For: 203.0.113.9\r\n"), peer: "10.1.1.1") {} else {
            Issue.record("an allow entry overrides the block")
        }
    }

    /// `X-Forwarded-For` forms behind trusted proxies: right to left across lines and within
    /// them, trusted hops skipped, empty elements skipped, garbage stops the walk at the peer.
    @Test(arguments: [
        ("X-Forwarded-For: 198.51.100.1\r\n", "198.51.100.1"),
        ("X-Forwarded-For: 198.51.100.1, 10.0.0.2\r\n", "198.51.100.1"),
        ("X-Forwarded-For: 1.1.1.1, 198.51.100.1\r\n", "198.51.100.1"),
        ("X-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 198.51.100.1 , ,\r\n", "198.51.100.1"),
        ("X-Forwarded-For: 198.51.100.1\r\nX-Forwarded-For: 10.0.0.3\r\n", "198.51.100.1"),
        ("X-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: unknown\r\n", "10.9.9.9"),
        ("X-Forwarded-For: 1.1.1.1, garbage, 10.0.0.2\r\n", "10.9.9.9"),
        ("X-Forwarded-For: 2001:db8::7\r\n", "2001:db8::7"),
        ("X-Forwarded-For: 10.0.0.1, 10.0.0.2\r\n", "10.9.9.9"),
        ("", "10.9.9.9"),
    ])
    func clientAddressBehindTrustedProxies(fields: String, client: String) throws {
        var decider = try RequestDecider("[client_ip]\ntrusted_proxies = [\"10.0.0.0/8\"]")
        _ = decider.decide(Self.get("/x", fields), peer: "10.9.9.9")
        #expect(decider.clientText == client)
        #expect(decider.decision.client.address == IPAddress(client)!)
    }

    @Test func rateLimitsCountPerClientAndRenderTheirFields() throws {
        var decider = try RequestDecider("""
            [[rate_limits]]
            name = "login"
            match = "POST /api/v1/auth/*"
            limit = 2
            window = "1m"
            """)
        let login = "POST /api/v1/auth/login HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"
        for remaining in [1, 0] {
            guard case .forward = decider.decide(login) else { Issue.record("under the limit"); return }
            #expect(decider.rateLimitFields.contains("X-RateLimit-Limit: 2\r\n") && decider.rateLimitFields.contains("X-RateLimit-Remaining: \(remaining)\r\n"))
        }
        #expect(decider.decide(login) == .rateLimited(rule: 0))
        #expect(decider.rateLimitFields.contains("Retry-After: ") && decider.decision.rateLimitReport?.retryAfter != nil)
        #expect(decider.decide("POST /API/v1//auth HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n") == .rateLimited(rule: 0),
                "a path variant is the same endpoint")
        guard case .forward = decider.decide(login, peer: "192.0.2.11") else { Issue.record("another client has its own count"); return }
        _ = decider.decide(Self.get("/x"))
        #expect(decider.rateLimitFields.isEmpty && decider.decision.rateLimitReport == nil, "nothing of the limited request stays")
    }

    @Test func strictRulesWaitForRedisAndFollowTheFailurePolicyWithoutIt() throws {
        let rule = """
            [redis]
            url = "redis://127.0.0.1:1"
            on_redis_failure = "deny"
            [[rate_limits]]
            name = "strict"
            match = "/s/*"
            limit = 5
            window = "1m"
            mode = "strict"
            """
        var decider = try RequestDecider(rule)
        decider.redis = .up
        guard case .checkStrictLimits = decider.decide(Self.get("/s/1")) else { Issue.record("a strict rule waits on Redis"); return }
        #expect(decider.decision.strictChecks.count == 1)
        decider.redis = .down(.deny)
        #expect(decider.decide(Self.get("/s/1")) == .respond(status: 503))
        #expect(decider.decision.strictChecks.isEmpty)
    }

    @Test func acmeChallengesAreAnsweredOnPlainHTTPOnly() throws {
        var decider = try RequestDecider()
        decider.snapshot.challenges.put(token: "tok_en-1", keyAuthorization: "tok_en-1.thumb", ttl: 60_000_000_000)
        #expect(decider.decide(Self.get("/.well-known/acme-challenge/tok_en-1")) == .serveChallenge(keyAuthorization: "tok_en-1.thumb"))
        #expect(decider.decide(Self.get("/.well-known/acme-challenge/unknown")) == .respond(status: 404))
        decider.secure = true
        if case .forward = decider.decide(Self.get("/.well-known/acme-challenge/tok_en-1")) {} else {
            Issue.record("over HTTPS the path is an ordinary one")
        }
    }
}
