import Foundation
import Glibc
import Testing

/// Rate limits shared through a real `redis-server` by several gateway processes: batched
/// (leases) never over the limit and within 2 %, strict exact, and an outage that neither fails
/// requests nor lifts the limits.
/// Windows are an hour long: a test of a few seconds then moves the sliding-window estimate by
/// well under 1 %, wherever the window boundary falls (no waiting for a fresh minute).
@Suite struct RedisRateLimitTests {
    let origin: Origin

    init() throws {
        origin = try Origin()
    }

    private func gateways(_ count: Int, redis: RedisServer, rule: String, failure: String = "local") throws -> [GatewayUnderTest] {
        try (0..<count).map { _ in
            try GatewayUnderTest(upstreams: [origin.port], extra: """
                [redis]
                url = "\(redis.url)"
                command_timeout = "\(RedisServer.commandTimeoutBeyondStalls)"
                sync_interval_ms = 100
                on_redis_failure = "\(failure)"

                \(rule)
                """)
        }
    }

    /// Until every worker (2 each) has its Redis connection ready.
    private func waitUntilConnected(_ gateways: [GatewayUnderTest]) {
        for gateway in gateways {
            #expect(gateway.child.waitFor(seconds: 10) { (try? gateway.metric("portcullis_redis_ready_connections")) == 2 })
        }
    }

    /// Sends `perGateway` requests to each gateway from its own thread, `interval` apart; returns
    /// how many got 200 and how many got a 5xx.
    private func load(_ gateways: [GatewayUnderTest], path: String, perGateway: Int, interval: Double) -> (admitted: Int, errors: Int) {
        let admitted = ConcurrentCounter()
        let errors = ConcurrentCounter()
        DispatchQueue.concurrentPerform(iterations: gateways.count) { index in
            guard let client = try? TestClient(port: gateways[index].port) else { return }
            let start = Date()
            for request in 0..<perGateway {
                let due = start.addingTimeInterval(Double(request) * interval)
                sleep(until: due)
                guard (try? client.send("GET \(path) HTTP/1.1\r\nHost: a\r\n\r\n")) != nil, let response = try? client.readResponse() else {
                    errors.add()
                    return
                }
                if response.status == 200 { admitted.add() }
                if response.status >= 500 { errors.add() }
            }
        }
        return (admitted.value, errors.value)
    }

    private static func rule(mode: String, limit: Int = 600) -> String {
        bytesRateLimitRule(name: "shared-\(mode)", limit: limit, mode: mode, key: "route")
    }

    /// Three gateways on one Redis, one 600-per-minute key, 3,000 requests inside one window.
    private func acrossThreeGateways(mode: String, interval: Double) throws -> (admitted: Int, errors: Int) {
        let redis = try RedisServer()
        let gateways = try gateways(3, redis: redis, rule: Self.rule(mode: mode))
        waitUntilConnected(gateways)
        return load(gateways, path: "/bytes/8", perGateway: 1000, interval: interval)
    }

    @Test func batchedModeNeverPassesTheLimitAcrossThreeGateways() throws {
        // Spread over about 12 s.
        let result = try acrossThreeGateways(mode: "batched", interval: 0.012)
        #expect(result.errors == 0)
        #expect((588...600).contains(result.admitted), "admitted \(result.admitted) of 3000 under a 600 limit")
    }

    @Test func strictModeIsExactAcrossThreeGateways() throws {
        let result = try acrossThreeGateways(mode: "strict", interval: 0)
        #expect(result.errors == 0)
        #expect(result.admitted == 600)
    }

    @Test func redisOutageKeepsServingWithLocalLimitsThenSharesAgain() throws {
        let redis = try RedisServer()
        let pair = try gateways(2, redis: redis, rule: Self.rule(mode: "batched", limit: 40))
        waitUntilConnected(pair)
        redis.kill()
        let during = load([pair[0]], path: "/bytes/8", perGateway: 100, interval: 0.002)
        #expect(during.errors == 0, "no 5xx because Redis is down")
        #expect(during.admitted == 40, "the limit still applies, locally")
        #expect(pair[0].child.output.components(separatedBy: "REDIS_UNAVAILABLE").count == 2, "logged once")
        try redis.restart()
        for gateway in pair {
            #expect(gateway.child.waitFor(seconds: 15) { gateway.child.output.contains("REDIS_RESTORED") })
        }
        // The first gateway's counts reach Redis at its next sync; the second then learns them.
        #expect(pair[0].child.waitFor(seconds: 5) {
            (try? redis.command("KEYS *shared-batched*").hasPrefix("*")) == true && (try? redis.command("KEYS *shared-batched*")) != "*0"
        })
        // One request makes the second gateway sync that counter; once it has learned the 40 it
        // refuses, and goes on refusing.
        #expect(pair[1].child.waitFor(seconds: 5) { self.load([pair[1]], path: "/bytes/8", perGateway: 1, interval: 0).admitted == 0 })
        let after = load([pair[1]], path: "/bytes/8", perGateway: 10, interval: 0.02)
        #expect(after.errors == 0)
        #expect(after.admitted == 0, "the second gateway sees the first one's 40: admitted \(after.admitted)")
    }

    @Test func scriptsFlushedFromRedisAreSentAgain() throws {
        let redis = try RedisServer()
        // "deny": a failed check would be a 503, not a silent local decision.
        let gateway = try gateways(1, redis: redis, rule: Self.rule(mode: "strict", limit: 5), failure: "deny")[0]
        waitUntilConnected([gateway])
        #expect(load([gateway], path: "/bytes/1", perGateway: 2, interval: 0).admitted == 2)
        #expect(try redis.command("SCRIPT FLUSH") == "+OK")
        let after = load([gateway], path: "/bytes/1", perGateway: 5, interval: 0)
        #expect(after.errors == 0 && after.admitted == 3, "NOSCRIPT answered by sending the script again; the count went on in Redis")
    }

    @Test func authenticatesWithThePasswordFromTheURL() throws {
        let redis = try RedisServer(password: "s3cret-pass")
        func gateway(_ credentials: String) throws -> GatewayUnderTest {
            try GatewayUnderTest(upstreams: [origin.port], extra: "[redis]\nurl = \"redis://\(credentials)@127.0.0.1:\(redis.port)/3\"\n")
        }
        let good = try gateway(":s3cret-pass")
        waitUntilConnected([good])
        let bad = try gateway(":wrong")
        #expect(bad.child.waitFor(seconds: 10) { bad.child.output.contains("REDIS_UNAVAILABLE") })
        #expect(bad.child.output.contains("setup command refused"), "the AUTH error is logged: \(bad.child.output)")
        #expect(try bad.get("/bytes/1").status == 200, "requests flow without Redis")
    }

    @Test func denyPolicyRefusesWhileRedisIsDown() throws {
        let redis = try RedisServer()
        let gateway = try gateways(1, redis: redis, rule: Self.rule(mode: "strict", limit: 100), failure: "deny")[0]
        // Ready once every worker's connection is up: no request is refused for a worker still connecting.
        #expect(gateway.child.waitFor(seconds: 10) { (try? TestClient.get(port: gateway.adminPort, "/readyz").status) == 200 })
        #expect(try gateway.metric("portcullis_redis_ready_connections") == 2)
        #expect(try gateway.get("/bytes/1").status == 200)
        redis.kill()
        #expect(gateway.child.waitFor(seconds: 5) { (try? gateway.get("/bytes/1").status) == 503 })
        #expect(try gateway.get("/other").status == 404, "requests no rule covers are not affected")
    }
}

/// Redis frozen (SIGSTOP for 5 s, connections open, nothing answered) under load, with strict
/// checks or leases that wait on Redis for every request: the circuit breaker keeps every
/// request within `command_timeout` plus a little, no request fails, and the shared counts
/// resume afterwards.
@Suite struct FrozenRedisTests {
    /// A gateway whose one rule (`/bytes/*`, keyed by `X-Key`, a 1 h window) counts in `redis`
    /// with a 50 ms `command_timeout`, once both workers are connected.
    private static func gateway(origin: Origin, redis: RedisServer, rule name: String, limit: Int, mode: String) throws -> GatewayUnderTest {
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: """
            [redis]
            url = "\(redis.url)"
            command_timeout = "50ms"
            on_redis_failure = "local"

            \(bytesRateLimitRule(name: name, limit: limit, mode: mode))
            """)
        #expect(gateway.child.waitFor(seconds: 10) { (try? gateway.metric("portcullis_redis_ready_connections")) == 2 })
        return gateway
    }

    @Test(arguments: ["strict", "batched"]) func aFrozenRedisNeverHoldsARequest(mode: String) throws {
        let origin = try Origin()
        let redis = try RedisServer()
        let gateway = try Self.gateway(origin: origin, redis: redis, rule: "\(mode)-frozen", limit: 1_000_000, mode: mode)
        let client = try TestClient(port: gateway.port)
        var slowest = 0.0
        var failures = 0
        var served = 0
        let started = Date()
        var frozen = false
        while Date().timeIntervalSince(started) < 7 {
            let elapsed = Date().timeIntervalSince(started)
            if !frozen && elapsed > 1 {
                redis.freeze()
                frozen = true
            }
            let sent = Date()
            // A key of its own for every request: a batched rule holds no lease for it, so each
            // request asks Redis like a strict one does.
            try client.send("GET /bytes/1 HTTP/1.1\r\nHost: a\r\nX-Key: \(served + failures)\r\n\r\n")
            let response = try client.readResponse()
            slowest = max(slowest, Date().timeIntervalSince(sent))
            if response.status == 200 { served += 1 } else { failures += 1 }
            if elapsed > 6 && frozen { redis.thaw() }
            usleep(2000)
        }
        redis.thaw()
        #expect(failures == 0, "\(failures) requests failed while Redis was frozen")
        #expect(slowest < 0.2 * Sanitizer.timeScale, "the slowest request took \(Int(slowest * 1000)) ms (command_timeout 50 ms)")
        #expect(served > 500)
        #expect(gateway.child.waitFor(seconds: 15) { (try? gateway.metric("portcullis_redis_ready_connections")) == 2 }, "reconnected after the thaw")
    }

    /// A lease request still in a frozen Redis's input when the gateway gives up on it (the
    /// connection drops after `command_timeout`) runs once Redis thaws: its tokens are counted
    /// and nobody holds them. The gateway reclaims such a lease by its id when Redis is back, so
    /// the window ends up counting only the one request admitted (locally) meanwhile; before,
    /// the lost sixteenth of the limit stayed counted for the whole window.
    @Test func aLeaseLostToATimeoutIsReclaimed() throws {
        let origin = try Origin()
        let redis = try RedisServer()
        let gateway = try Self.gateway(origin: origin, redis: redis, rule: "lost-lease", limit: 1600, mode: "batched")
        redis.freeze()
        let client = try TestClient(port: gateway.port)
        try client.send("GET /bytes/1 HTTP/1.1\r\nHost: a\r\nX-Key: k\r\n\r\n")
        #expect(try client.readResponse().status == 200, "admitted by the local count while Redis is frozen")
        redis.thaw()
        #expect(gateway.child.waitFor(seconds: 15) { (try? gateway.metric("portcullis_redis_ready_connections")) == 2 }, "reconnected after the thaw")
        // The lease would have been 1600 / 16 = 100 tokens.
        let counted = { () -> Int in
            let keys = (try? redis.cli(["--raw", "KEYS", "*{rl:lost-lease:*"])) ?? ""
            return keys.split(separator: "\n").filter { !$0.hasSuffix(":leases") }
                .compactMap { Int((try? redis.cli(["--raw", "GET", String($0)]))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") }
                .reduce(0, +)
        }
        #expect(gateway.child.waitFor(seconds: 10) { counted() == 1 }, "the window counts \(counted()), not the one request admitted")
    }
}
