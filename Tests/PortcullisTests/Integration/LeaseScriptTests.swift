import Testing
@testable import Portcullis

/// The lease and reclaim scripts on a real `redis-server`, in both orders a lost lease can meet
/// its reclaim: run before it (Redis had it when the connection dropped) or only after (it sat
/// in a frozen Redis's input).
@Suite struct LeaseScriptTests {
    let redis: RedisServer
    init() throws { redis = try RedisServer() }

    private func eval(_ script: String, keys: [String], _ arguments: [String]) throws -> [Int] {
        try redis.cli(["--raw", "EVAL", script, String(keys.count)] + keys + arguments)
            .split(separator: "\n").compactMap { Int($0) }
    }

    private func lease(id: String) throws -> Int {
        try eval(RateLimitScripts.lease, keys: ["{rl:t:k}:1", "{rl:t:k}:0", "{rl:t:k}:1:leases"], ["1600", "0", "60000", id])[0]
    }

    private func reclaim(id: String) throws -> Int {
        try eval(RateLimitScripts.reclaim, keys: ["{rl:t:k}:1", "{rl:t:k}:1:leases"], [id, "60000"])[0]
    }

    private var counted: Int { Int((try? redis.cli(["--raw", "GET", "{rl:t:k}:1"]))?.split(separator: "\n").first ?? "") ?? 0 }

    @Test func aLeaseThatRanIsReclaimedOnce() throws {
        #expect(try lease(id: "a.1") == 100)
        #expect(try lease(id: "a.2") == 93, "a sixteenth of the 1500 left")
        #expect(counted == 193)
        #expect(try reclaim(id: "a.1") == 100)
        #expect(try reclaim(id: "a.1") == 0, "a second reclaim gives nothing back")
        #expect(counted == 93, "the other lease stays counted")
    }

    @Test func aLeaseReclaimedBeforeItRunsGetsNothing() throws {
        #expect(try reclaim(id: "b.1") == 0)
        #expect(try lease(id: "b.1") == 0, "the id was reclaimed: no tokens")
        #expect(counted == 0)
        #expect(try lease(id: "b.2") == 100, "other leases are granted as before")
    }
}
