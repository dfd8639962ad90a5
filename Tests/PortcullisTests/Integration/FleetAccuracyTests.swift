import Foundation
import Testing

/// Ten gateway processes (one worker each) on one `redis-server`, one key limited to 600 a
/// minute, 3,000 requests sent round-robin over the fleet. Batched mode (leases) must never
/// admit more than the limit and stay within 2 % of it under a burst; spread over 2 s, 10 s and
/// 70 s (the last always crosses a window boundary) it must stay within 2 % of strict mode
/// (exact, one Redis round trip per request) run at the same moments on a fleet of its own.
/// Each case prints admitted requests and Redis commands per request for the README table.
@Suite(.serialized) struct FleetAccuracyTests {
    static let instances = 10
    static let limit = 600
    static let requests = 3000

    /// A fleet: its Redis and its gateways.
    struct Fleet {
        let redis: RedisServer
        let gateways: [GatewayUnderTest]
    }

    private func fleet(mode: String, window: String, origin: Origin) throws -> Fleet {
        let redis = try RedisServer()
        let extra = """
            [redis]
            url = "\(redis.url)"
            command_timeout = "\(RedisServer.commandTimeoutBeyondStalls)"
            [[rate_limits]]
            name = "fleet"
            match = "/bytes/*"
            limit = \(Self.limit)
            window = "\(window)"
            key = "route"
            mode = "\(mode)"
            """
        let started = ConcurrentList<GatewayUnderTest>()
        Thread.runAll(Self.instances) { _ in
            if let gateway = try? GatewayUnderTest(upstreams: [origin.port], workers: 1, extra: extra) { started.append(gateway) }
        }
        let gateways = started.items
        guard gateways.count == Self.instances else { throw HarnessError("only \(gateways.count) gateways started") }
        for gateway in gateways {
            guard gateway.child.waitFor(seconds: 10, { (try? gateway.metric("portcullis_redis_ready_connections")) == 1 }) else {
                throw HarnessError("a gateway did not connect to Redis: \(gateway.child.output)")
            }
        }
        return Fleet(redis: redis, gateways: gateways)
    }

    /// What one run of the schedule came to on one fleet.
    struct Outcome {
        var admitted = 0
        var errors = 0
        var redisCommands = 0
        var commandsPerRequest: Double { Double(redisCommands) / Double(FleetAccuracyTests.requests) }
    }

    /// Sends `requests` requests, request i to gateway i % instances at i × spread / requests
    /// seconds, on every fleet at the same moments (one thread per gateway of each fleet).
    private func run(_ fleets: [Fleet], requests: Int = requests, spread: Double) throws -> [Outcome] {
        let admitted = fleets.map { _ in ConcurrentCounter() }
        let errors = fleets.map { _ in ConcurrentCounter() }
        let commandsBefore = try fleets.map { try $0.redis.scriptCalls() }
        let start = Date().addingTimeInterval(0.2)
        // Threads of their own, not concurrentPerform: that runs as many at once as there are
        // cores, and these spend their time asleep until their next request is due.
        Thread.runAll(fleets.count * Self.instances) { thread in
            let fleet = thread / Self.instances
            let instance = thread % Self.instances
            guard let client = try? TestClient(port: fleets[fleet].gateways[instance].port) else {
                errors[fleet].add()
                return
            }
            for request in stride(from: instance, to: requests, by: Self.instances) {
                let due = start.addingTimeInterval(Double(request) * spread / Double(requests))
                sleep(until: due)
                guard (try? client.send("GET /bytes/1 HTTP/1.1\r\nHost: a\r\n\r\n")) != nil, let response = try? client.readResponse() else {
                    errors[fleet].add()
                    return
                }
                if response.status == 200 { admitted[fleet].add() } else if response.status != 429 { errors[fleet].add() }
            }
        }
        return try fleets.indices.map { index in
            Outcome(admitted: admitted[index].value, errors: errors[index].value,
                    redisCommands: try fleets[index].redis.scriptCalls() - commandsBefore[index])
        }
    }

    private func report(_ label: String, _ outcome: Outcome, reference: Int) {
        let deviation = 100 * Double(outcome.admitted - reference) / Double(reference)
        print("fleet \(label): admitted \(outcome.admitted) (reference \(reference), \(String(format: "%+.1f", deviation)) %), "
              + "Redis commands per request \(String(format: "%.3f", outcome.commandsPerRequest))")
    }

    @Test func aBurstNeverPassesTheLimitAndComesWithinTwoPercent() throws {
        let origin = try Origin()
        // An hour-long window: the burst cannot straddle a window boundary.
        let batched = try fleet(mode: "batched", window: "1h", origin: origin)
        let outcome = try run([batched], spread: 3)[0]
        report("burst 3 s, batched", outcome, reference: Self.limit)
        #expect(outcome.errors == 0)
        #expect(outcome.admitted <= Self.limit, "never more than the limit")
        #expect(Double(outcome.admitted) >= Double(Self.limit) * 0.98, "admitted \(outcome.admitted) of \(Self.limit)")
        #expect(outcome.commandsPerRequest < 0.25)
    }

    @Test(arguments: [2.0, 10.0, 70.0]) func spreadOverTimeItMatchesStrictMode(seconds: Double) throws {
        let origin = try Origin()
        let batched = try fleet(mode: "batched", window: "1m", origin: origin)
        let strict = try fleet(mode: "strict", window: "1m", origin: origin)
        let outcomes = try run([batched, strict], spread: seconds)
        let label = "spread \(Int(seconds)) s"
        report("\(label), strict", outcomes[1], reference: outcomes[1].admitted)
        report("\(label), batched", outcomes[0], reference: outcomes[1].admitted)
        #expect(outcomes[0].errors == 0 && outcomes[1].errors == 0)
        let reference = Double(outcomes[1].admitted)
        #expect(Double(outcomes[0].admitted) <= reference * 1.02 && Double(outcomes[0].admitted) >= reference * 0.98,
                "batched \(outcomes[0].admitted) against strict \(outcomes[1].admitted)")
        #expect(outcomes[0].commandsPerRequest < outcomes[1].commandsPerRequest, "fewer Redis commands than strict mode")
    }

    @Test func farBelowTheLimitAKeyCostsLittleRedisWork() throws {
        let origin = try Origin()
        let batched = try fleet(mode: "batched", window: "1h", origin: origin)
        // 10 % of the limit, spread over 3 s.
        let outcome = try run([batched], requests: Self.limit / 10, spread: 3)[0]
        let perRequest = Double(outcome.redisCommands) / Double(Self.limit / 10)
        print("fleet 10 % of the limit, batched: admitted \(outcome.admitted), Redis commands per request \(String(format: "%.3f", perRequest))")
        #expect(outcome.errors == 0 && outcome.admitted == Self.limit / 10)
        #expect(perRequest <= 0.2, "one lease per instance for six requests each: \(perRequest)")
    }
}

extension Thread {
    /// Runs `body(0)` … `body(count - 1)` each on a thread of its own and waits for all.
    static func runAll(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let threads = (0..<count).map { index in Thread { body(index) } }
        for thread in threads { thread.start() }
        for thread in threads { thread.waitUntilFinished() }
    }
}

/// A list several threads append to.
final class ConcurrentList<Element>: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [Element] = []
    func append(_ element: Element) { lock.lock(); list.append(element); lock.unlock() }
    var items: [Element] { lock.lock(); defer { lock.unlock() }; return list }
}

extension RedisServer {
    /// Scripts run so far (`EVALSHA` and `EVAL` calls: what the gateways send for rate limits).
    func scriptCalls() throws -> Int {
        try cli(["INFO", "commandstats"]).split(whereSeparator: \.isNewline)
            .filter { $0.hasPrefix("cmdstat_evalsha:") || $0.hasPrefix("cmdstat_eval:") }
            // `calls=N,usec=…,rejected_calls=…,failed_calls=…`: the first field.
            .compactMap { line in line.split(separator: ":").last?.split(separator: ",").first?.split(separator: "=").last.flatMap { Int($0) } }
            .reduce(0, +)
    }
}
