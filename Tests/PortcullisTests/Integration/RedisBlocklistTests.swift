import Foundation
import Glibc
import Testing

/// Blocklist changes shared through a real `redis-server`: applied by every instance within a
/// second, and loaded whole by an instance that starts later.
@Suite struct RedisBlocklistTests {
    @Test func changesReachEveryInstance() throws {
        let origin = try Origin()
        let redis = try RedisServer()
        func gateway() throws -> GatewayUnderTest {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-shared-blocklist-\(UUID().uuidString).txt")
            return try GatewayUnderTest(upstreams: [origin.port], extra: """
                [blocklist]
                file = "\(file.path)"
                optional = true
                [redis]
                url = "\(redis.url)"
                """)
        }
        func served(_ gateway: GatewayUnderTest) -> Bool {
            guard let client = try? TestClient(port: gateway.port, source: "127.0.0.30") else { return false }
            try? client.send("GET /bytes/1 HTTP/1.1\r\nHost: a\r\n\r\n")
            return (try? client.readResponse().status) == 200
        }
        let first = try gateway()
        let second = try gateway()
        for instance in [first, second] {
            #expect(instance.child.waitFor(seconds: 10) { instance.child.output.contains("shared entr") }, "loaded the shared set")
        }
        #expect(served(second))
        #expect(try first.admin("POST", "/admin/blocklist", body: #"{"cidr": "127.0.0.30", "reason": "shared"}"#).status == 201)
        let start = Date()
        #expect(second.child.waitFor(seconds: 1) { !served(second) }, "applied by the other instance within a second")
        print("blocklist change reached the second instance in \(Int(Date().timeIntervalSince(start) * 1000)) ms")
        let late = try gateway()
        #expect(late.child.waitFor(seconds: 5) { !served(late) }, "an instance that starts later loads the full set")
        #expect(try first.admin("DELETE", "/admin/blocklist/127.0.0.30").status == 204)
        #expect(second.child.waitFor(seconds: 1) { served(second) } && late.child.waitFor(seconds: 1) { served(late) })
    }
}
