import Foundation
import Testing

/// Rate limits in one gateway process (no Redis): 429 with Retry-After and the rule's name,
/// X-RateLimit-* fields, keys by IP, header and route, one table for all workers, auto-ban.
@Suite struct RateLimitTests {
    let origin: Origin

    init() throws {
        origin = try Origin()
    }

    private func gateway(rules: String, workers: Int = 2, extra: String = "") throws -> GatewayUnderTest {
        try GatewayUnderTest(upstreams: [origin.port], workers: workers, extra: rules + "\n" + extra)
    }

    @Test func overTheLimitIs429WithRetryAfterAndTheRule() throws {
        let gateway = try gateway(rules: """
            [[rate_limits]]
            name = "limited"
            match = "GET /limited/*"
            limit = 5
            window = "1m"
            """)
        let client = try TestClient(port: gateway.port)
        for expected in (0..<5).reversed() {
            try client.send("GET /limited/bytes HTTP/1.1\r\nHost: a\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status != 429)
            #expect(response.header("X-RateLimit-Limit") == "5" && response.header("X-RateLimit-Remaining") == String(expected))
            let reset = Int(response.header("X-RateLimit-Reset") ?? "") ?? 0
            let now = Int(Date().timeIntervalSince1970)
            #expect(reset > now - 1 && reset <= now + 61 && reset % 60 == 0, "the end of the current minute, epoch seconds")
        }
        try client.send("GET /limited/other HTTP/1.1\r\nHost: a\r\n\r\n")
        let refused = try client.readResponse()
        #expect(refused.status == 429)
        let retryAfter = Int(refused.header("Retry-After") ?? "") ?? 0
        #expect(retryAfter >= 1 && retryAfter <= 120)
        #expect(refused.header("X-RateLimit-Remaining") == "0")
        #expect(refused.text.contains("\"error\":\"rate_limited\"") && refused.text.contains("\"rule\":\"limited\""))
        #expect(refused.text.contains(refused.header("X-Request-ID") ?? "missing"))
        try client.send("GET /bytes/3 HTTP/1.1\r\nHost: a\r\n\r\n")
        let other = try client.readResponse()
        #expect(other.status == 200 && other.header("X-RateLimit-Limit") == nil, "keep-alive goes on; unlimited paths carry no fields")
        #expect(try gateway.metric("portcullis_rate_limited_total") == 1)
        // The parser's refusal follows a limited request on the same connection: nothing of
        // that request's limits belongs on it (it once carried them).
        try client.send("GET /limited/x HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try client.readResponse().status == 429)
        try client.send("GET /x HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n")
        let malformed = try client.readResponse()
        #expect(malformed.status == 400 && malformed.header("X-RateLimit-Limit") == nil && malformed.header("Retry-After") == nil)
    }

    @Test func mostRestrictiveRuleIsReported() throws {
        let gateway = try gateway(rules: """
            [[rate_limits]]
            match = "*"
            limit = 100
            window = "1m"

            [[rate_limits]]
            match = "POST /api/*"
            limit = 3
            window = "10s"
            """)
        let post = try TestClient(port: gateway.port)
        try post.send("POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
        let response = try post.readResponse()
        #expect(response.header("X-RateLimit-Limit") == "3" && response.header("X-RateLimit-Remaining") == "2")
        let get = try gateway.get("/bytes/1")
        #expect(get.header("X-RateLimit-Limit") == "100" && get.header("X-RateLimit-Remaining") == "98", "every matching rule counted")
    }

    @Test(arguments: Transport.allCases) func aFallbackAndBothFieldStylesThroughTheBinary(_ transport: Transport) throws {
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: """
            [rate_limiting]
            headers = "both"
            [[rate_limits]]
            name = "bytes"
            match = "GET /bytes/*"
            limit = 6
            [[rate_limits]]
            name = "default"
            match = "*"
            limit = 4
            fallback = true
            """, bothTransports: true)
        let client = try gateway.client(transport)
        for remaining in (0..<6).reversed() {
            try client.send("GET /bytes/1 HTTP/1.1\r\nHost: a\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 200 && response.header("X-RateLimit-Limit") == "6", "the endpoint's 6, not the default's 4")
            #expect(response.header("X-RateLimit-Remaining") == String(remaining))
            #expect(response.header("RateLimit-Policy") == #""bytes";q=6;w=60"#)
            #expect(response.header("RateLimit")?.hasPrefix(#""bytes";r=\#(remaining);t="#) == true)
        }
        try client.send("GET /bytes/1 HTTP/1.1\r\nHost: a\r\n\r\n")
        let refused = try client.readResponse()
        #expect(refused.status == 429 && refused.header("RateLimit")?.hasPrefix(#""bytes";r=0;t="#) == true)
        #expect(refused.header("Retry-After") != nil && refused.text.contains("\"rule\":\"bytes\""))
        var statuses: [Int] = []
        for _ in 0..<5 {
            try client.send("GET /status/204 HTTP/1.1\r\nHost: a\r\n\r\n")
            let response = try client.readResponse()
            statuses.append(response.status)
            #expect(response.header("RateLimit-Policy") == #""default";q=4;w=60"#)
        }
        #expect(statuses == [204, 204, 204, 204, 429], "the fallback counts what no other rule names, from zero")
    }

    @Test func checkAndTheGatewayWarnAboutARuleThatCannotReject() throws {
        let gateway = try gateway(rules: """
            [[rate_limits]]
            name = "default"
            match = "*"
            limit = 100

            [[rate_limits]]
            name = "notifications"
            match = "GET /api/v1/notifications"
            limit = 120
            """)
        let text = try String(contentsOf: gateway.configURL, encoding: .utf8)
        let lines = text.components(separatedBy: "\n")
        let line = lines.indices.filter { lines[$0] == "[[rate_limits]]" }[1] + 1
        let warning = "\(gateway.configURL.path): line \(line): rate_limits[1]: rule \"notifications\" (limit 120) can never be the one that rejects"
        #expect(gateway.child.output.contains(warning), "logged at start")
        let check = try ChildProcess(executable: BuiltProducts.path("portcullis"), arguments: ["check", "--config", gateway.configURL.path])
        #expect(check.waitForExit(seconds: 10) == 0, "a warning, not an error")
        #expect(check.output.contains("warning: " + warning) && check.output.contains("set fallback = true on it"), "\(check.output)")
    }

    @Test func keysByHeaderAndByRoute() throws {
        let gateway = try gateway(rules: """
            [[rate_limits]]
            match = "/keyed/*"
            limit = 2
            window = "1m"
            key = "header:X-API-Key"

            [[rate_limits]]
            match = "/shared/*"
            limit = 3
            window = "1m"
            key = "route"
            """)
        func status(_ path: String, key: String? = nil, source: String = "127.0.0.1") throws -> Int {
            let client = try TestClient(port: gateway.port, source: source)
            try client.send("GET \(path) HTTP/1.1\r\nHost: a\r\n\(key.map { "X-API-Key: \($0)\r\n" } ?? "")\r\n")
            return try client.readResponse().status
        }
        #expect(try [status("/keyed/a", key: "k1"), status("/keyed/a", key: "k1"), status("/keyed/a", key: "k1")] == [404, 404, 429])
        #expect(try status("/keyed/a", key: "k2") == 404, "another key has its own counter")
        #expect(try [status("/shared/a", source: "127.0.0.2"), status("/shared/a", source: "127.0.0.3"),
                     status("/shared/a", source: "127.0.0.4"), status("/shared/a", source: "127.0.0.5")] == [404, 404, 404, 429],
                "one counter for everyone on the route")
    }

    @Test func workersShareOneTable() throws {
        let gateway = try gateway(rules: """
            [[rate_limits]]
            match = "*"
            limit = 40
            window = "1m"
            """, workers: 2)
        let admitted = ConcurrentCounter()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            guard let client = try? TestClient(port: gateway.port) else { return }
            for _ in 0..<15 {
                guard (try? client.send("GET /bytes/1 HTTP/1.1\r\nHost: a\r\n\r\n")) != nil,
                      let response = try? client.readResponse() else { return }
                if response.status == 200 { admitted.add() }
            }
        }
        #expect(admitted.value == 40, "120 requests on 8 connections over 2 workers, exactly 40 admitted")
    }

    @Test func repeatedRejectionsBanTheClient() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-autoban-\(UUID().uuidString).txt")
        let gateway = try gateway(rules: """
            [[rate_limits]]
            match = "*"
            limit = 2
            window = "1m"
            """, extra: """
            [blocklist]
            file = "\(file.path)"
            optional = true
            [rate_limiting.auto_ban]
            rejections = 3
            period = "1m"
            ban = "10m"
            """)
        var statuses: [Int] = []
        for _ in 0..<6 {
            let client = try TestClient(port: gateway.port, source: "127.0.0.20")
            try? client.send("GET /bytes/1 HTTP/1.1\r\nHost: a\r\n\r\n")
            statuses.append((try? client.readResponse().status) ?? 0)
        }
        #expect(Array(statuses.prefix(5)) == [200, 200, 429, 429, 429])
        #expect(gateway.child.waitFor(seconds: 5) {
            ((try? String(contentsOf: file, encoding: .utf8)) ?? "").contains("127.0.0.20 expires=")
        }, "banned and written to the blocklist")
        // The file is written before the workers get the new blocklist (on disk before it is
        // applied): wait for the ban to reach them, then every connection is closed at accept.
        func closedAtAccept() -> Bool {
            guard let banned = try? TestClient(port: gateway.port, source: "127.0.0.20") else { return true }
            try? banned.send("GET /bytes/1 HTTP/1.1\r\nHost: a\r\n\r\n")
            return (try? banned.readResponse()) == nil
        }
        #expect(gateway.child.waitFor(seconds: 5) { closedAtAccept() }, "closed at accept")
        #expect(closedAtAccept(), "and stays banned")
        #expect(try TestClient.get(port: gateway.port, "/bytes/1").status == 200, "other clients are not affected")
    }
}

/// A counter several threads add to.
final class ConcurrentCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
