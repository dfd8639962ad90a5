import Foundation
import Glibc
import Testing

/// The admin listener against guessing and oversized calls: failed authentications are
/// throttled per source (every failure audited), bodies are capped, and health checks from
/// the same source keep working.
@Suite struct AdminThrottleTests {
    @Test func guessingLocksTheSourceOutForAWhile() throws {
        let origin = try Origin()
        let auditFile = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: auditFile) }
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: "[audit]\nfile = \"\(auditFile.path)\"\n",
                                           adminOptions: "auth_failures_per_minute = 5\nauth_lockout = \"1500ms\"")
        for _ in 0..<4 { #expect(try gateway.admin("GET", "/admin/blocklist", token: "guess").status == 401) }
        #expect(try gateway.admin("GET", "/admin/blocklist").status == 200, "below the limit the right token works")
        #expect(try gateway.admin("GET", "/admin/blocklist", token: "guess").status == 401, "the fifth failure locks the source out")
        let locked = try gateway.admin("GET", "/admin/blocklist")
        #expect(locked.status == 429, "even the right token waits out the lockout")
        #expect(Int(locked.header("Retry-After") ?? "") ?? 0 >= 1)
        #expect(try TestClient.get(port: gateway.adminPort, "/healthz").status == 200, "health checks need no token and stay open")
        usleep(1_600_000)
        #expect(try gateway.admin("GET", "/admin/blocklist").status == 200, "after the lockout")
        let failures = { ((try? String(contentsOf: auditFile, encoding: .utf8)) ?? "").components(separatedBy: "ADMIN_AUTH_FAILURE").count - 1 }
        #expect(gateway.child.waitFor(seconds: 5) { failures() >= 1 }, "failures are audited")
    }

    @Test func adminBodiesAreCapped() throws {
        let origin = try Origin()
        let gateway = try GatewayUnderTest(upstreams: [origin.port])
        let client = try TestClient(port: gateway.adminPort)
        try client.send("POST /admin/blocklist HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer \(GatewayUnderTest.adminToken)\r\nContent-Length: 65537\r\n\r\n")
        #expect(try client.readResponse().status == 413)
        #expect(try gateway.admin("POST", "/admin/blocklist", body: #"{"cidr": "203.0.113.7"}"#).status == 201, "a normal call still works")
    }
}
