@testable import Portcullis
import Testing

/// The policy building blocks: path globs, the sliding-window arithmetic, address blocks, the
/// prefix table, the blocklist file and the counter table's memory bound.
@Suite struct PolicyTests {
    private func glob(_ pattern: String, _ method: String, _ path: String) -> Bool {
        let compiled = PathPattern(pattern)!
        return Array(method.utf8).withUnsafeBufferPointer { methodBytes in
            Array(path.utf8).withUnsafeBufferPointer { compiled.matches(method: methodBytes, path: $0) }
        }
    }

    @Test func pathGlobs() {
        #expect(glob("POST /api/v1/auth/*", "POST", "/api/v1/auth/login"))
        #expect(glob("POST /api/v1/auth/*", "POST", "/api/v1/auth/login/"), "a final * covers deeper paths")
        #expect(!glob("POST /api/v1/auth/*", "GET", "/api/v1/auth/login"))
        #expect(!glob("POST /api/v1/auth/*", "POST", "/api/v1/authx"))
        #expect(glob("POST /api/v1/auth/*", "POST", "/api/v1/auth"), "a final /* covers the bare path too")
        #expect(!glob("POST /api/v1/auth/*", "post", "/api/v1/auth/login"), "methods are case-sensitive")
        #expect(glob("/x/*/y/*", "GET", "/x/a/y/") && glob("/x/*/y/*", "GET", "/x/a/y"))
        let lowered = PathPattern("POST /API/V1/Auth/*", caseInsensitive: true)!
        #expect(lowered.glob == Array("/api/v1/auth/*".utf8) && lowered.method == Array("POST".utf8))
        #expect(glob("POST /api/v1/posts/*/reactions", "POST", "/api/v1/posts/42/reactions"))
        #expect(!glob("POST /api/v1/posts/*/reactions", "POST", "/api/v1/posts/42/x/reactions"), "an inner * stays in one segment")
        #expect(!glob("POST /api/v1/posts/*/reactions", "POST", "/api/v1/posts/42/reactions/x"))
        #expect(glob("GET /api/v1/notifications", "GET", "/api/v1/notifications"))
        #expect(!glob("GET /api/v1/notifications", "GET", "/api/v1/notifications/1"))
        #expect(glob("*", "DELETE", "/anything/at/all"))
        #expect(glob("/x/*.json", "GET", "/x/a.json") && !glob("/x/*.json", "GET", "/x/a/b.json"))
        #expect(PathPattern("get /x") == nil && PathPattern("POST x") == nil && PathPattern("A B C") == nil)
    }

    @Test func slidingWindowArithmetic() {
        let fresh = SlidingWindow(current: 0, previous: 0, elapsed: 0.5)
        #expect(fresh.admits(limit: 1) && fresh.remaining(limit: 10) == 10)
        let full = SlidingWindow(current: 10, previous: 0, elapsed: 0.5)
        #expect(!full.admits(limit: 10))
        // 60 s window, 10 per window, 10 used now: the next request fits once 10·(1−f) ≤ 9 in the
        // next window: f ≥ 0.1 → 30 s left here + 6 s there.
        #expect(full.retryAfter(limit: 10, windowSeconds: 60) == 36)
        // Half the previous window still counts: 20 · 0.5 = 10.
        let weighted = SlidingWindow(current: 0, previous: 20, elapsed: 0.5)
        #expect(weighted.estimate == 10 && !weighted.admits(limit: 10))
        // 20·(1−f) ≤ 9 → f ≥ 0.55: 3 s from f = 0.5 in a 60 s window.
        #expect(weighted.retryAfter(limit: 10, windowSeconds: 60) == 3)
        #expect(SlidingWindow(current: 3, previous: 10, elapsed: 0.75).remaining(limit: 10) == 4)
    }

    @Test func addressBlocks() {
        #expect(CIDR("203.0.113.0/24")?.description == "203.0.113.0/24")
        #expect(CIDR("203.0.113.7")?.description == "203.0.113.7")
        #expect(CIDR("2001:db8::/32")?.description == "2001:db8::/32")
        #expect(CIDR("10.0.0.1/8") == nil, "host bits set: a probable typo")
        #expect(CIDR("10.0.0.0/33") == nil && CIDR("nonsense") == nil && CIDR("::/129") == nil)
        let block = CIDR("10.0.0.0/8")!
        #expect(block.contains(IPAddress("10.200.1.1")!) && !block.contains(IPAddress("11.0.0.1")!))
        #expect(IPAddress("::ffff:10.1.2.3") == IPAddress("10.1.2.3"), "IPv4-mapped IPv6 is the IPv4 address")
    }

    @Test func prefixTableFindsTheLongestBlockAndHonoursAllowsAndExpiry() {
        var table = PrefixTable()
        func entry(_ text: String, allow: Bool = false, expires: UInt32 = 0) -> PrefixTable.Entry {
            PrefixTable.Entry(cidr: CIDR(text)!, allow: allow, expiresAt: expires, reason: 0)
        }
        table.insert(entry("10.0.0.0/8"))
        table.insert(entry("10.1.0.0/16", allow: true))
        table.insert(entry("10.1.2.3"))
        table.insert(entry("192.0.2.0/24", expires: 1000))
        table.insert(entry("2001:db8::/32"))
        func blocked(_ address: String, now: UInt32 = 500) -> CIDR? {
            table.blockingEntry(for: IPAddress(address)!, now: now).map { table.entry(at: $0).cidr }
        }
        #expect(blocked("10.9.9.9") == CIDR("10.0.0.0/8"))
        #expect(blocked("10.1.9.9") == nil, "allow overrides the /8")
        #expect(blocked("10.1.2.3") == nil, "allow overrides even a longer block")
        #expect(blocked("192.0.2.5") == CIDR("192.0.2.0/24") && blocked("192.0.2.5", now: 1000) == nil)
        #expect(blocked("2001:db8:1::1") == CIDR("2001:db8::/32") && blocked("2001:db9::1") == nil)
        #expect(blocked("11.0.0.1") == nil)
        #expect(table.remove(CIDR("10.1.0.0/16")!) && !table.remove(CIDR("10.1.0.0/16")!))
        #expect(blocked("10.1.2.3") == CIDR("10.1.2.3"))
    }

    @Test func anAllowEntryOfTheSameLengthLeavesOtherBlocksAlone() {
        // The black-box finding: `127.0.0.51` blocked, `allow 10.9.9.9` switched it off.
        for (block, allow, probe) in [("127.0.0.51", "10.9.9.9", "127.0.0.51"), ("127.0.0.0/24", "10.9.9.0/24", "127.0.0.9"),
                                      ("2001:db8::1", "2001:db8::2", "2001:db8::1"), ("127.0.0.51", "2001:db8::2", "127.0.0.51")] {
            for allowExpiry in [UInt32(0), 100] {
                var table = PrefixTable()
                table.insert(PrefixTable.Entry(cidr: CIDR(block)!, allow: false, expiresAt: 0, reason: 0))
                table.insert(PrefixTable.Entry(cidr: CIDR(allow)!, allow: true, expiresAt: allowExpiry, reason: 0))
                #expect(table.blockingEntry(for: IPAddress(probe)!, now: 500) != nil, "\(block) with allow \(allow) (expires \(allowExpiry))")
            }
        }
    }

    /// Random tables of blocks and allows, some expired, IPv4 and IPv6, nested and overlapping
    /// prefixes of equal and different lengths, against a scan of every entry: blocked when a
    /// live block covers the address and no live allow does; the reported block is the longest.
    @Test func prefixTableAgreesWithABruteForceModel() {
        var generator = SystemRandomNumberGenerator()
        let now: UInt32 = 1_000_000
        // Addresses drawn near a few bases, so entries nest and overlap instead of scattering.
        let bases = [IPAddress("10.20.0.0")!, IPAddress("192.0.2.0")!, IPAddress("2001:db8::")!, IPAddress("2001:db8:0:1::")!]
        func randomAddress() -> IPAddress {
            let base = bases.randomElement(using: &generator)!
            let spread: UInt64 = base.isV4 ? 0xFFFF : 0xFFFF_FFFF
            return IPAddress(high: base.high, low: base.low | UInt64.random(in: 0...spread, using: &generator))
        }
        for _ in 0..<20 {
            var table = PrefixTable()
            var model: [CIDR: PrefixTable.Entry] = [:]
            for _ in 0..<Int.random(in: 1...400, using: &generator) {
                let address = randomAddress()
                let lengths = address.isV4 ? [104, 112, 116, 120, 124, 126, 128] : [32, 48, 64, 96, 112, 120, 128]
                let cidr = CIDR(address: address, length: lengths.randomElement(using: &generator)!)
                let expiry: UInt32 = [0, 0, now - 1, now + 1].randomElement(using: &generator)!
                let entry = PrefixTable.Entry(cidr: cidr, allow: Int.random(in: 0..<4, using: &generator) == 0, expiresAt: expiry, reason: 0)
                table.insert(entry)
                model[cidr] = entry
            }
            for cidr in model.keys.shuffled(using: &generator).prefix(model.count / 4) {
                let removed = table.remove(cidr)
                #expect(removed)
                model[cidr] = nil
            }
            #expect(table.count == model.count)
            let live = model.values.filter { $0.expiresAt == 0 || $0.expiresAt > now }
            for _ in 0..<2000 {
                let address = randomAddress()
                let allowed = live.contains { $0.allow && $0.cidr.contains(address) }
                let longestBlock = live.filter { !$0.allow && $0.cidr.contains(address) }.map(\.cidr.length).max()
                let found = table.blockingEntry(for: address, now: now).map { table.entry(at: $0).cidr }
                #expect(found?.length == (allowed ? nil : longestBlock), "\(address): model says \(allowed ? "allowed" : "\(String(describing: longestBlock))")")
                if let found { #expect(found.contains(address) && !model[found]!.allow) }
            }
        }
    }

    @Test func blocklistFileRoundTripsAndReportsBadLines() {
        let text = """
            # comment
            203.0.113.0/24  # scanners
            allow 10.0.0.0/8
            198.51.100.7 expires=2030-01-02T03:04:05Z # abuse
            2001:db8::/32
            """
        let parsed = BlocklistFile.parse(Array(text.utf8))
        #expect(parsed.errors.isEmpty && parsed.entries.count == 4)
        #expect(parsed.entries[0].reason == "scanners" && parsed.entries[1].allow)
        #expect(UTCTime.rfc3339(Int64(parsed.entries[2].expiresAt)) == "2030-01-02T03:04:05Z")
        #expect(BlocklistFile.parse(BlocklistFile.render(parsed.entries)).entries == parsed.entries)
        let bad = BlocklistFile.parse(Array("10.0.0.1/8\nok.example\n1.2.3.4 expires=soon\n1.2.3.5\n".utf8))
        #expect(bad.errors.map(\.line) == [1, 2, 3] && bad.entries.count == 1)
    }

    @Test func counterTableStaysWithinItsBound() {
        let table = RateLimitTable(maxKeys: 640)
        for key in 0..<50_000 as Range<UInt64> {
            _ = table.hit(key: key &* 0x9E37_79B9_7F4A_7C15, window: 1, elapsed: 0, limit: 5)
        }
        #expect(table.keyCount <= 640)
        // A key just used survives; its count goes on.
        let key: UInt64 = 42
        for _ in 0..<5 { #expect(table.hit(key: key, window: 1, elapsed: 0, limit: 5).admitted) }
        #expect(!table.hit(key: key, window: 1, elapsed: 0, limit: 5).admitted)
        // Two windows later the key starts afresh.
        #expect(table.hit(key: key, window: 3, elapsed: 0, limit: 5).admitted)
    }
}

/// The digits of the `X-RateLimit-*` values and of Redis commands, against Swift's own.
@Suite struct DecimalTextTests {
    @Test(arguments: [0, 7, 10, 99, 100, 60_000, -1, -10, 100_000_000, Int64.max, Int64.min])
    func matchesSwiftsDescription(_ value: Int64) {
        var out: [UInt8] = Array("x=".utf8)
        DecimalText.append(value, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "x=\(value)")
    }
}
