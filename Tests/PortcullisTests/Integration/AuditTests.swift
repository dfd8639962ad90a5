import Foundation
import Glibc
import Testing

/// Audit events through the real binary: every type provoked and found, well-formed, in the
/// file, on standard output and in a Redis stream; floods summarised; rotation; a full queue
/// drops (and counts) events without touching the traffic.
@Suite struct AuditTests {
    let origin: Origin
    let directory: URL

    init() throws {
        origin = try Origin()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-audit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    private var auditFile: URL { directory.appendingPathComponent("audit.log") }

    /// The JSON objects in a text of lines; every line must parse and carry the common fields.
    private func events(in text: String) -> [[String: Any]] {
        text.split(separator: "\n").compactMap { line in
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object != nil, "not JSON: \(line)")
            guard let object else { return nil }
            for key in ["timestamp", "event_type", "severity", "request_id", "method", "path", "client_ip", "user_agent", "details"] {
                #expect(object.keys.contains(key), "\(key) missing in \(line)")
            }
            let timestamp = object["timestamp"] as? String ?? ""
            #expect(timestamp.count == 24 && timestamp.hasSuffix("Z") && timestamp.contains("."), "RFC 3339 with ms, UTC: \(timestamp)")
            return object
        }
    }

    private func raw(_ port: UInt16, _ text: String, source: String? = nil) {
        guard let client = try? TestClient(port: port, source: source) else { return }
        try? client.send(text)
        _ = try? client.readResponse()
    }

    @Test func everyEventTypeReachesEverySink() throws {
        let redis = try RedisServer()
        let blocklist = directory.appendingPathComponent("blocklist.txt")
        try "127.0.0.40 # audit test\n".write(to: blocklist, atomically: true, encoding: .utf8)
        let dead = ClosedPort()
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: """
            [tls]
            self_signed_dev = true
            dev_certificate_dir = "\(directory.appendingPathComponent("certs").path)"
            expiry_warning_days = 365
            [audit]
            file = "\(auditFile.path)"
            stdout = true
            redis_stream = "audit-test"
            [redis]
            url = "\(redis.url)"
            [blocklist]
            file = "\(blocklist.path)"
            [limits]
            max_body = "1KB"
            [[upstreams]]
            name = "dead"
            servers = ["127.0.0.1:\(dead.port)"]
            [[routes]]
            path_prefix = "/dead"
            upstream = "dead"
            allow_http = true
            [[routes]]
            path_prefix = "/"
            upstream = "app"
            allow_http = true
            [[rate_limits]]
            match = "/limited"
            limit = 1
            window = "1m"
            """, https: true, routesFirst: false)
        #expect(gateway.child.waitFor(seconds: 10) { gateway.child.output.contains("redis connected") })
        let agent = "User-Agent: audit-test/1.0\r\n"
        raw(gateway.port, "GET /limited HTTP/1.1\r\nHost: a\r\n\(agent)\r\n")
        raw(gateway.port, "GET /limited HTTP/1.1\r\nHost: a\r\n\(agent)\r\n")                       // RATE_LIMIT_EXCEEDED
        raw(gateway.port, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", source: "127.0.0.40")                 // IP_BLOCKED
        raw(gateway.port, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n")             // REQUEST_TOO_LARGE
        raw(gateway.port, "GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n")                      // MALFORMED_REQUEST
        raw(gateway.tlsPort, "this is not a TLS client hello\r\n\r\n")                              // TLS_HANDSHAKE_FAILED
        raw(gateway.port, "GET /dead HTTP/1.1\r\nHost: a\r\n\r\n")                                   // UPSTREAM_UNAVAILABLE
        _ = try gateway.admin("GET", "/admin/blocklist", token: "wrong-token")                      // ADMIN_AUTH_FAILURE
        _ = try gateway.admin("POST", "/admin/blocklist", body: #"{"cidr": "203.0.113.0/24"}"#)     // BLOCKLIST_UPDATED
        _ = try gateway.admin("POST", "/admin/certs/reload")                                        // CERT_RELOADED, CONFIG_RELOADED
        _ = try gateway.admin("PUT", "/admin/acme/challenges/tok", body: "tok.thumb")
        raw(gateway.port, "GET /.well-known/acme-challenge/tok HTTP/1.1\r\nHost: a\r\n\r\n")         // ACME_CHALLENGE_SERVED
        func types(_ text: String) -> Set<String> { Set(events(in: text).compactMap { $0["event_type"] as? String }) }
        var streamTypes: Set<String> = []
        func streamHolds(_ wanted: Set<String>) -> Bool {
            gateway.child.waitFor(seconds: 10) {
                streamTypes = (try? redis.streamEvents("audit-test")).map { types($0.joined(separator: "\n")) } ?? []
                return streamTypes.isSuperset(of: wanted)
            }
        }
        // The stream lives in Redis's memory: check it before the outage, which empties it.
        let beforeOutage = Set(["RATE_LIMIT_EXCEEDED", "IP_BLOCKED", "REQUEST_TOO_LARGE", "MALFORMED_REQUEST", "TLS_HANDSHAKE_FAILED",
                                "UPSTREAM_UNAVAILABLE", "ADMIN_AUTH_FAILURE", "BLOCKLIST_UPDATED", "CERT_RELOADED", "CONFIG_RELOADED",
                                "CERT_EXPIRING", "ACME_CHALLENGE_SERVED"])
        #expect(streamHolds(beforeOutage), "redis stream: missing \(beforeOutage.subtracting(streamTypes))")
        redis.kill()                                                                                // REDIS_UNAVAILABLE
        #expect(gateway.child.waitFor(seconds: 10) { gateway.child.output.contains("REDIS_UNAVAILABLE") })
        try redis.restart()                                                                         // REDIS_RESTORED
        #expect(gateway.child.waitFor(seconds: 15) { gateway.child.output.contains("REDIS_RESTORED") })
        // Events of the outage waited in the backlog and reach the new server.
        #expect(streamHolds(["REDIS_UNAVAILABLE", "REDIS_RESTORED"]), "redis stream after the outage: \(streamTypes)")

        let all = beforeOutage.union(["REDIS_UNAVAILABLE", "REDIS_RESTORED"])
        #expect(gateway.child.waitFor(seconds: 5) { types((try? String(contentsOf: auditFile, encoding: .utf8)) ?? "").isSuperset(of: all) },
                "file: missing \(all.subtracting(types((try? String(contentsOf: auditFile, encoding: .utf8)) ?? "")))")
        let stdoutLines = gateway.child.output.split(separator: "\n").filter { $0.hasPrefix("{\"timestamp\"") }.joined(separator: "\n")
        #expect(types(stdoutLines).isSuperset(of: all), "stdout: missing \(all.subtracting(types(stdoutLines)))")

        let file = events(in: try String(contentsOf: auditFile, encoding: .utf8))
        let limited = file.first { $0["event_type"] as? String == "RATE_LIMIT_EXCEEDED" }
        #expect(limited?["method"] as? String == "GET" && limited?["path"] as? String == "/limited")
        #expect(limited?["user_agent"] as? String == "audit-test/1.0" && limited?["client_ip"] as? String == "127.0.0.1")
        #expect((limited?["details"] as? [String: Any])?["limit"] as? Int == 1 && limited?["severity"] as? String == "warning")
        let blocked = file.first { $0["event_type"] as? String == "IP_BLOCKED" }
        #expect(blocked?["client_ip"] as? String == "127.0.0.40" && (blocked?["details"] as? [String: Any])?["stage"] as? String == "connection")
    }

    /// An event sent just before Redis stops answering (frozen, then killed) was once dropped
    /// when its command failed; it goes back to the backlog and reaches the next server.
    @Test func anEventSentIntoAFrozenRedisReachesTheNextServer() throws {
        let redis = try RedisServer()
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: """
            [audit]
            redis_stream = "audit-frozen"
            [redis]
            url = "\(redis.url)"
            command_timeout = "50ms"
            """)
        #expect(gateway.child.waitFor(seconds: 10) { gateway.child.output.contains("redis connected") })
        raw(gateway.port, "GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n")                      // MALFORMED_REQUEST
        #expect(gateway.child.waitFor(seconds: 10) { (try? redis.streamEvents("audit-frozen"))?.count == 1 })
        redis.freeze()
        // From another address, so the flood summary (which would go out later) does not stand in for it.
        raw(gateway.port, "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n", source: "127.0.0.41")
        usleep(500_000)                                                                             // well past command_timeout
        redis.kill()
        try redis.restart()
        #expect(gateway.child.waitFor(seconds: 15) {
            (try? redis.streamEvents("audit-frozen"))?.contains { $0.contains(#""event_type":"MALFORMED_REQUEST""#) } == true
        }, "the event of the freeze reaches the restarted server: \((try? redis.streamEvents("audit-frozen")) ?? [])")
    }

    @Test func floodsAreSummarisedAndFullQueuesDropWithoutHarm() throws {
        let gateway = try GatewayUnderTest(upstreams: [origin.port], workers: 1, extra: """
            [audit]
            file = "\(auditFile.path)"
            queue_size = 5
            [[rate_limits]]
            match = "*"
            limit = 1
            window = "1m"
            """)
        let client = try TestClient(port: gateway.port)
        var statuses: [Int] = []
        for _ in 0..<200 {
            try client.send("GET /bytes/1 HTTP/1.1\r\nHost: a\r\n\r\n")
            statuses.append(try client.readResponse().status)
        }
        #expect(statuses.filter { $0 == 429 }.count == 199, "the traffic is not affected")
        #expect(gateway.child.waitFor(seconds: 5) { (try? gateway.metric("portcullis_audit_events_dropped_total")).flatMap { $0 } ?? 0 > 0 })
        func lines() -> [[String: Any]] {
            events(in: (try? String(contentsOf: auditFile, encoding: .utf8)) ?? "").filter { $0["event_type"] as? String == "RATE_LIMIT_EXCEEDED" }
        }
        #expect(gateway.child.waitFor(seconds: 5) { lines().contains { (($0["details"] as? [String: Any])?["repeated"] as? Int ?? 0) > 0 } },
                "a summary with its count")
        #expect(lines().count < 10, "one event, then at most one a second: \(lines().count)")
    }

    @Test func floodSummariesAccountForEveryEvent() throws {
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: """
            [audit]
            file = "\(auditFile.path)"
            [[rate_limits]]
            match = "*"
            limit = 1
            window = "1m"
            """, adminOptions: "auth_failures_per_minute = 0")
        // Floods that span several seconds, from two workers, of two event types.
        let started = Date()
        var rejected = 0
        var refusedAdmin = 0
        let client = try TestClient(port: gateway.port)
        while Date().timeIntervalSince(started) < 2.5 {
            try client.send("GET /bytes/1 HTTP/1.1\r\nHost: a\r\n\r\n")
            if try client.readResponse().status == 429 { rejected += 1 }
            if try gateway.admin("GET", "/admin/blocklist", token: "wrong-token").status == 401 { refusedAdmin += 1 }
        }
        func accounted(_ type: String) -> Int {
            let lines = events(in: (try? String(contentsOf: auditFile, encoding: .utf8)) ?? "").filter { $0["event_type"] as? String == type }
            return lines.reduce(0) { $0 + ((($1["details"] as? [String: Any])?["repeated"] as? Int) ?? 1) }
        }
        // The summary of the last second comes once the flood has been quiet for a second.
        #expect(gateway.child.waitFor(seconds: 5) { accounted("RATE_LIMIT_EXCEEDED") == rejected && accounted("ADMIN_AUTH_FAILURE") == refusedAdmin },
                "rate limits: \(accounted("RATE_LIMIT_EXCEEDED")) of \(rejected); admin: \(accounted("ADMIN_AUTH_FAILURE")) of \(refusedAdmin)")
        #expect(rejected > 100 && refusedAdmin > 100)
    }

    @Test func theFileRotatesBySize() throws {
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: """
            [audit]
            file = "\(auditFile.path)"
            max_file_size = "4KB"
            max_files = 2
            """)
        for index in 0..<60 { raw(gateway.port, "GET / HTTP/1.1\r\nHost: a\r\nBad Header\(index): x\r\n\r\n", source: "127.0.1.\(index + 1)") }
        let rotated = directory.appendingPathComponent("audit.log.1").path
        #expect(gateway.child.waitFor(seconds: 5) { FileManager.default.fileExists(atPath: rotated) })
        #expect(gateway.child.waitFor(seconds: 5) { FileManager.default.fileExists(atPath: rotated.dropLast() + "2") })
        #expect(!FileManager.default.fileExists(atPath: rotated.dropLast() + "3"), "max_files = 2")
        for path in [auditFile.path, rotated] {
            let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            #expect(size <= 4096 && size > 0)
            _ = events(in: try String(contentsOfFile: path, encoding: .utf8))
        }
    }
}
