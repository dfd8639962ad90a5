import Foundation
import Glibc
import Testing

/// The access log (JSON lines and the combined format, written by the control thread) and
/// `GET /readyz`.
@Suite struct AccessLogTests {
    let origin: Origin
    let file: URL

    init() throws {
        origin = try Origin()
        file = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-access-\(UUID().uuidString)/access.log")
    }

    private func lines(count: Int, gateway: GatewayUnderTest) -> [String] {
        var found: [String] = []
        _ = gateway.child.waitFor(seconds: 5) {
            found = ((try? String(contentsOf: file, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            return found.count >= count
        }
        return found
    }

    @Test func jsonLines() throws {
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: "[access_log]\nfile = \"\(file.path)\"\n")
        let ok = try gateway.get("/bytes/100?x=1", headers: ["User-Agent": "access-test", "Referer": "https://example.test/"])
        let missing = try gateway.get("/status/404")
        let logged = lines(count: 2, gateway: gateway)
        #expect(logged.count == 2)
        let records = logged.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(records.count == 2)
        let first = records.first { $0["request_id"] as? String == ok.header("X-Request-ID") }
        #expect(first?["method"] as? String == "GET" && first?["target"] as? String == "/bytes/100?x=1" && first?["status"] as? Int == 200)
        #expect(first?["user_agent"] as? String == "access-test" && first?["referer"] as? String == "https://example.test/")
        #expect((first?["bytes_sent"] as? Int ?? 0) > 100 && first?["client_ip"] as? String == "127.0.0.1")
        #expect(records.contains { $0["request_id"] as? String == missing.header("X-Request-ID") && $0["status"] as? Int == 404 })
    }

    @Test func combinedFormat() throws {
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: "[access_log]\nfile = \"\(file.path)\"\nformat = \"combined\"\n")
        let response = try gateway.get("/bytes/10", headers: ["User-Agent": "Mozilla \"quoted\""])
        let line = lines(count: 1, gateway: gateway).first ?? ""
        let pattern = #"^127\.0\.0\.1 - - \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "GET /bytes/10 HTTP/1\.1" 200 \d+ "-" "Mozilla \\"quoted\\"" [0-9a-f]{32} [0-9.e-]+$"#
        #expect(line.range(of: pattern, options: .regularExpression) != nil, "\(line)")
        #expect(line.contains(response.header("X-Request-ID") ?? "missing"))
    }

    @Test func readinessFollowsListenersAndRedis() throws {
        let plain = try GatewayUnderTest(upstreams: [origin.port])
        let ready = try TestClient.get(port: plain.adminPort, "/readyz")
        #expect(ready.status == 200 && ready.text.contains("\"ready\":true"))

        let redis = try RedisServer()
        let strict = try GatewayUnderTest(upstreams: [origin.port], extra: "[redis]\nurl = \"\(redis.url)\"\non_redis_failure = \"deny\"\n")
        #expect(strict.child.waitFor(seconds: 10) { (try? TestClient.get(port: strict.adminPort, "/readyz").status) == 200 })
        redis.kill()
        #expect(strict.child.waitFor(seconds: 10) { (try? TestClient.get(port: strict.adminPort, "/readyz").status) == 503 })
        #expect(try TestClient.get(port: strict.adminPort, "/readyz").text.contains("\"redis\":false"))
        try redis.restart()
        #expect(strict.child.waitFor(seconds: 15) { (try? TestClient.get(port: strict.adminPort, "/readyz").status) == 200 })
    }
}
