import Foundation
import Testing

/// Gateways on a real three-master Redis Cluster (`redis+cluster://`): rate-limit counters
/// land on every node and stay exact, a slot moved under a running gateway is followed (`ASK`
/// while it migrates, `MOVED` after), and blocklist sharing and the audit stream work there.
@Suite(.serialized) struct RedisClusterTests {
    static let limit = 20
    static let keys = (0..<9).map { "client-\($0)" }

    private static func gateway(_ origin: Origin, _ cluster: RedisClusterUnderTest, redisOptions: String = "",
                                extra: String = "") throws -> GatewayUnderTest {
        let blocklist = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-cluster-blocklist-\(UUID().uuidString).txt")
        let gateway = try GatewayUnderTest(upstreams: [origin.port], workers: 1, extra: """
            [redis]
            url = "\(cluster.url)"
            command_timeout = "\(RedisServer.commandTimeoutBeyondStalls)"
            \(redisOptions)
            [blocklist]
            file = "\(blocklist.path)"
            optional = true
            \(extra)
            """)
        guard gateway.child.waitFor(seconds: 15, { (try? gateway.metric("portcullis_redis_ready_connections")) == 1 }) else {
            throw HarnessError("the gateway did not get ready on the cluster: \(gateway.child.output)")
        }
        return gateway
    }

    private static func status(_ gateway: GatewayUnderTest, key: String) throws -> Int {
        try gateway.get("/bytes/1", headers: ["X-Key": key]).status
    }

    @Test(arguments: ["strict", "batched"]) func limitsAreExactOnEveryNode(mode: String) throws {
        let origin = try Origin()
        let cluster = try RedisClusterUnderTest()
        let rule = bytesRateLimitRule(name: "cluster-\(mode)", limit: Self.limit, mode: mode)
        let gateways = [try Self.gateway(origin, cluster, extra: rule), try Self.gateway(origin, cluster, extra: rule)]
        for key in Self.keys {
            var admitted = 0
            for request in 0..<(Self.limit + 5) {
                let status = try Self.status(gateways[request % 2], key: key)
                #expect(status == 200 || status == 429, "\(key): \(status)")
                if status == 200 { admitted += 1 }
            }
            #expect(admitted == Self.limit, "\(key) (\(mode)): \(admitted) admitted over two gateways, limit \(Self.limit)")
        }
        let holders = try cluster.keys(matching: "*{rl:cluster-\(mode):*")
        #expect(holders.count == 3, "the counters of \(Self.keys.count) clients are on every master: \(holders.map(\.keys))")
    }

    /// A slot moved under a running gateway, twice: the counter's slot is moved whole
    /// (`MOVED` then, and the count goes on where it was), and the blocklist's slot is moved in
    /// two steps (a change made while it migrates is written through `ASK` to the importing node).
    @Test func aMovedSlotIsFollowed() throws {
        let origin = try Origin()
        let cluster = try RedisClusterUnderTest()
        let gateway = try Self.gateway(origin, cluster, extra: bytesRateLimitRule(name: "moving", limit: 30, mode: "strict"))
        for _ in 0..<10 { #expect(try Self.status(gateway, key: "mover") == 200) }
        guard let counter = try cluster.keys(matching: "*{rl:moving:*").first, let key = counter.keys.first else {
            Issue.record("no counter in the cluster")
            return
        }
        let slot = try cluster.slot(of: key)
        let target = cluster.nodes.first { $0.port != counter.node.port }!
        try cluster.beginMoving(slot: slot, from: counter.node, to: target)
        try cluster.finishMoving(slot: slot, to: target)
        var admitted = 0
        for _ in 0..<25 where try Self.status(gateway, key: "mover") == 200 { admitted += 1 }
        #expect(admitted == 20, "the count went on on the new owner: \(10 + admitted) admitted, limit 30")
        // Counted in Redis, not by the local fallback (which would also stop at 30).
        #expect(try cluster.keys(matching: "*{rl:moving:*").map(\.node.port) == [target.port])
        #expect(try target.cli(["--raw", "GET", key]).trimmingCharacters(in: .whitespacesAndNewlines) == "30")

        let blocklistKey = "portcullis:blocklist"
        let blocklistSlot = try cluster.slot(of: blocklistKey)
        let blocklistOwner = try cluster.owner(of: blocklistSlot)
        let importer = cluster.nodes.first { $0.port != blocklistOwner.port }!
        #expect(try gateway.admin("POST", "/admin/blocklist", body: #"{"cidr": "192.0.2.1", "reason": "before"}"#).status == 201)
        try cluster.beginMoving(slot: blocklistSlot, from: blocklistOwner, to: importer)
        #expect(try gateway.admin("POST", "/admin/blocklist", body: #"{"cidr": "192.0.2.2", "reason": "while migrating"}"#).status == 201)
        try cluster.finishMoving(slot: blocklistSlot, to: importer)
        #expect(try gateway.admin("POST", "/admin/blocklist", body: #"{"cidr": "192.0.2.3", "reason": "after"}"#).status == 201)
        #expect(gateway.child.waitFor(seconds: 5) { (try? importer.cli(["--raw", "HKEYS", blocklistKey]))?.split(separator: "\n").sorted()
                == ["192.0.2.1", "192.0.2.2", "192.0.2.3"] }, "every change is on the slot's new owner: \((try? importer.cli(["HKEYS", blocklistKey])) ?? "")")
        let late = try Self.gateway(origin, cluster)
        #expect(late.child.waitFor(seconds: 5) { late.child.output.contains("3 shared entries loaded") }, "a gateway started later loads all three")
    }

    /// A master killed: the client is down for every key (here `deny`: 503), one
    /// `REDIS_UNAVAILABLE`; the master restarted (same node, same slots): counts are shared again.
    @Test func aLostMasterFollowsTheFailurePolicy() throws {
        let origin = try Origin()
        let cluster = try RedisClusterUnderTest()
        let gateway = try Self.gateway(origin, cluster, redisOptions: "on_redis_failure = \"deny\"",
                                       extra: bytesRateLimitRule(name: "lost-master", limit: 1000, mode: "strict"))
        #expect(try Self.status(gateway, key: "a") == 200)
        cluster.nodes[1].kill()
        #expect(gateway.child.waitFor(seconds: 5) { (try? Self.status(gateway, key: "a")) == 503 }, "denied while a master is away")
        #expect(try gateway.metric("portcullis_redis_ready_connections") == 0)
        try cluster.nodes[1].restart()
        #expect(gateway.child.waitFor(seconds: 20) { (try? Self.status(gateway, key: "a")) == 200 }, "shared again once it is back")
        #expect(try gateway.metric("portcullis_redis_ready_connections") == 1)
        // The log reaches the test through a pipe, behind the answers that came by socket.
        #expect(gateway.child.waitFor(seconds: 5) { gateway.child.lineCount(containing: "REDIS_RESTORED") >= 1 })
        #expect(gateway.child.lineCount(containing: "REDIS_UNAVAILABLE") == 1 && gateway.child.lineCount(containing: "REDIS_RESTORED") == 1,
                "one outage, one recovery: \(gateway.child.output.split(separator: "\n").filter { $0.contains("REDIS_") })")
    }

    /// `redis+cluster://` naming a server that is not a cluster: said plainly, and the gateway
    /// serves under `on_redis_failure` (here the local counts) instead of waiting on it.
    @Test func aServerThatIsNotAClusterIsNamed() throws {
        let origin = try Origin()
        let redis = try RedisServer()
        let gateway = try GatewayUnderTest(upstreams: [origin.port], workers: 1, extra: """
            [redis]
            url = "redis+cluster://127.0.0.1:\(redis.port)"
            \(bytesRateLimitRule(name: "not-a-cluster", limit: 3, mode: "strict"))
            """)
        #expect(gateway.child.waitForLine(containing: "is not a Redis Cluster", seconds: 10)?.contains("for a single server use redis://") == true)
        let statuses = try (0..<4).map { _ in try gateway.get("/bytes/1", headers: ["X-Key": "k"]).status }
        #expect(statuses == [200, 200, 200, 429], "limited by the local count: \(statuses)")
        #expect(try gateway.metric("portcullis_redis_ready_connections") == 0)
    }

    @Test func blocklistAndAuditAreSharedThroughTheCluster() throws {
        let origin = try Origin()
        let cluster = try RedisClusterUnderTest()
        let audit = "[audit]\nredis_stream = \"cluster-audit\""
        let first = try Self.gateway(origin, cluster, extra: audit)
        let second = try Self.gateway(origin, cluster, extra: audit)
        func served(_ gateway: GatewayUnderTest) -> Bool {
            guard let client = try? TestClient(port: gateway.port, source: "127.0.0.31") else { return false }
            try? client.send("GET /bytes/1 HTTP/1.1\r\nHost: a\r\n\r\n")
            return (try? client.readResponse().status) == 200
        }
        #expect(served(second))
        #expect(try first.admin("POST", "/admin/blocklist", body: #"{"cidr": "127.0.0.31", "reason": "cluster"}"#).status == 201)
        #expect(second.child.waitFor(seconds: 1) { !served(second) }, "published on one node, heard by the other instance")
        #expect(second.child.waitFor(seconds: 5) {
            (try? cluster.nodes[0].streamEvents("cluster-audit"))?.contains { $0.contains(#""event_type":"IP_BLOCKED""#) } == true
        }, "the audit stream is written to its node: \((try? cluster.nodes[0].streamEvents("cluster-audit")) ?? [])")
    }
}
