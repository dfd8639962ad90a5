@testable import Portcullis
import Testing

/// What routes a command to a cluster node: the key's slot (the cluster specification's own
/// examples), the redirections nodes answer with, and the `CLUSTER SLOTS` map.
@Suite struct RedisClusterRoutingTests {
    @Test func slotsAreTheSpecificationsCRC16() {
        #expect(RedisSlot.crc16(Array("123456789".utf8)) == 0x31C3)
        #expect(RedisSlot.of(Array("foo".utf8)) == 12182)
        #expect(RedisSlot.of(Array("".utf8)) == 0)
    }

    @Test func hashTagsFollowTheSpecification() {
        func hashed(_ key: String) -> String { String(decoding: RedisSlot.hashedPart(of: Array(key.utf8)), as: UTF8.self) }
        #expect(hashed("{user1000}.following") == "user1000")
        #expect(hashed("foo{}{bar}") == "foo{}{bar}", "an empty first tag: the whole key")
        #expect(hashed("foo{{bar}}zap") == "{bar", "from the first { to the next }")
        #expect(hashed("foo{bar}{zap}") == "bar")
        #expect(hashed("foo{bar") == "foo{bar", "no closing brace: the whole key")
        #expect(RedisSlot.of(Array("{user1000}.following".utf8)) == RedisSlot.of(Array("{user1000}.followers".utf8)))
    }

    @Test func theRateLimitKeysOfOneCounterShareASlot() {
        let name = Array("portcullis:{rl:api:ip:198.51.100.7}".utf8)
        let keys = [name + Array(":2900".utf8), name + Array(":2899".utf8), name + Array(":2900:leases".utf8)]
        #expect(Set(keys.map { RedisSlot.of($0) }).count == 1)
        let command = RateLimitScripts.command(sha: "x", script: "y", byText: false, keys: keys, arguments: [Array("1".utf8)])
        #expect(command.slot == RedisSlot.of(keys[0]))
        #expect(RedisCommand("TIME").slot == nil)
        #expect(RedisCommand(keyed: "HGETALL", "portcullis:blocklist").slot == RedisSlot.of(Array("portcullis:blocklist".utf8)))
    }

    @Test func redirectionsAreParsed() {
        #expect(RedisRedirect("MOVED 3999 127.0.0.1:6381") == RedisRedirect(kind: .moved, slot: 3999, host: "127.0.0.1", port: 6381))
        #expect(RedisRedirect("ASK 0 [::1]:7000") == RedisRedirect(kind: .ask, slot: 0, host: "::1", port: 7000))
        #expect(RedisRedirect("MOVED 16383 :7002") == RedisRedirect(kind: .moved, slot: 16383, host: "", port: 7002))
        for other in ["MOVED 16384 a:1", "MOVED -1 a:1", "MOVED 1 a", "MOVED 1 a:0", "ASK 1", "NOSCRIPT No matching script", "ERR MOVED 1 a:1",
                      "MOVED 1 a:1 extra", "CLUSTERDOWN The cluster is down"] {
            #expect(RedisRedirect(other) == nil, "\(other)")
        }
    }

    @Test func slotMapsAreParsed() {
        func node(_ host: String, _ port: Int64) -> RedisValue { .array([.bytes(Array(host.utf8)), .integer(port), .bytes(Array("id".utf8))]) }
        let reply = RedisValue.array([
            .array([.integer(0), .integer(5460), node("127.0.0.1", 7000), node("127.0.0.1", 7003)]),
            .array([.integer(5461), .integer(16383), node("", 7001)]),
        ])
        #expect(RedisSlotRange.ranges(in: reply) == [RedisSlotRange(slots: 0...5460, host: "127.0.0.1", port: 7000),
                                                     RedisSlotRange(slots: 5461...16383, host: "", port: 7001)])
        #expect(RedisSlotRange.ranges(in: .array([])) == [])
        for bad: RedisValue in [.error("ERR This instance has cluster support disabled"), .null,
                                .array([.array([.integer(5), .integer(4), node("a", 1)])]),
                                .array([.array([.integer(0), .integer(16384), node("a", 1)])]),
                                .array([.array([.integer(0), .integer(1), node("a", 0)])]),
                                .array([.array([.integer(0), .integer(1)])])] {
            #expect(RedisSlotRange.ranges(in: bad) == nil, "\(bad)")
        }
    }
}
