@testable import Portcullis
import Testing

/// Leases in the counter table, without Redis: Redis's answers are given by hand, so every
/// path is exercised at exact times — tokens spent, a refill asked for once when half are gone,
/// a denial kept until the time Redis's counts allow one more, leases of ended windows, idle
/// ones and evicted keys given back, a late lease for an ended window returned whole.
@Suite struct RateLimitLeaseTests {
    static let second: Int64 = 1_000_000_000
    static let window = 60 * second
    static let name = Array("p{rl:r:k}".utf8)

    private func take(_ table: RateLimitTable, key: UInt64 = 7, at now: Int64) -> RateLimitTable.LeaseDecision {
        Self.name.withUnsafeBufferPointer { name in
            table.takeLeased(key: key, window: now / Self.window, elapsed: Double(now % Self.window) / Double(Self.window), now: now,
                             sharedName: name, windowLength: Self.window)
        }
    }

    @discardableResult
    private func answer(_ table: RateLimitTable, key: UInt64 = 7, at now: Int64, granted: Int64, current: Int64, previous: Int64 = 0,
                        limit: Int64 = 100, forRequest: Bool) -> (admitted: Bool, window: SlidingWindow) {
        Self.name.withUnsafeBufferPointer { name in
            table.applyLease(key: key, window: now / Self.window, elapsed: Double(now % Self.window) / Double(Self.window), now: now,
                             granted: granted, current: current, previous: previous, limit: limit, sharedName: name,
                             windowLength: Self.window, forRequest: forRequest)
        }
    }

    private func returns(_ table: RateLimitTable, at now: Int64) -> [LeaseReturn] {
        var returns: [LeaseReturn] = []
        table.takeLeaseReturns(shardIndices: 0..<RateLimitTable.shardCount, now: now, idleAfter: Self.second, into: &returns)
        return returns
    }

    private static func isAdmitted(_ decision: RateLimitTable.LeaseDecision) -> (admitted: Bool, refill: Bool) {
        if case .admitted(_, let refill) = decision { return (true, refill) }
        return (false, false)
    }

    @Test func tokensAreSpentHereAndARefillIsAskedForOnceHalfAreGone() {
        let table = RateLimitTable(maxKeys: 64)
        let start = 10 * Self.window
        guard case .needsLease = take(table, at: start) else { Issue.record("no lease yet: the request waits"); return }
        let first = answer(table, at: start, granted: 8, current: 8, forRequest: true)
        #expect(first.admitted && first.window.remaining(limit: 100) == 92 + 7, "the room in Redis plus the 7 tokens held here")
        var refills: [Int] = []
        for spent in 1...7 {
            let decision = Self.isAdmitted(take(table, at: start + Int64(spent)))
            #expect(decision.admitted)
            if decision.refill { refills.append(spent) }
        }
        #expect(refills == [3], "asked for once, when 4 of the 8 are left (then it is pending)")
        guard case .needsLease = take(table, at: start + 8) else { Issue.record("the lease is spent"); return }
        answer(table, at: start + 9, granted: 5, current: 13, forRequest: false)
        #expect((0..<5).allSatisfy { _ in Self.isAdmitted(take(table, at: start + 10)).admitted }, "the refill's 5 tokens")
    }

    @Test func noRoomIsRememberedUntilRedisWouldHaveSome() {
        let table = RateLimitTable(maxKeys: 64)
        // 30 s into a window: 50 now, 100 in the previous one, limit 100: the estimate is 100.
        let now = 10 * Self.window + 30 * Self.second
        _ = take(table, at: now)
        let denied = answer(table, at: now, granted: 0, current: 50, previous: 100, forRequest: true)
        #expect(!denied.admitted)
        // One more fits when 100 × (1 − f) + 50 + 1 ≤ 100, at f = 0.51: 30.6 s into the window.
        guard case .rejected(let view) = take(table, at: 10 * Self.window + 30_500_000_000) else { Issue.record("still denied"); return }
        #expect(view.remaining(limit: 100) == 0)
        guard case .needsLease = take(table, at: 10 * Self.window + 30_700_000_000) else { Issue.record("asks again after"); return }
    }

    @Test func unspentTokensGoBackWhenTheWindowEndsOrTheLeaseIdles() {
        let table = RateLimitTable(maxKeys: 64)
        let start = 10 * Self.window
        _ = take(table, at: start)
        answer(table, at: start, granted: 10, current: 10, forRequest: true)
        #expect(returns(table, at: start + Self.second / 2).isEmpty, "in use")
        let idle = returns(table, at: start + 2 * Self.second)
        #expect(idle.map(\.tokens) == [9] && idle.map(\.window) == [10] && idle.map(\.sharedName) == [Self.name])
        guard case .needsLease = take(table, at: start + 3 * Self.second) else { Issue.record("given back: none left here"); return }

        answer(table, at: start + 3 * Self.second, granted: 4, current: 14, forRequest: true)
        // The next window: the 3 tokens left of window 10 go back to window 10's counter.
        guard case .needsLease = take(table, at: start + Self.window) else { Issue.record("a new window needs a new lease"); return }
        #expect(returns(table, at: start + Self.window).map { [$0.window, $0.tokens] } == [[10, 3]])
    }

    @Test func aLeaseForAWindowThatEndedMeanwhileGoesStraightBack() {
        let table = RateLimitTable(maxKeys: 64)
        let start = 10 * Self.window
        _ = take(table, at: start + Self.window)   // the key has moved on to window 11
        let late = answer(table, at: start, granted: 6, current: 6, forRequest: true)
        #expect(late.admitted, "the request that waited is admitted on one token")
        #expect(returns(table, at: start + Self.window).map { [$0.window, $0.tokens] } == [[10, 5]])
    }

    @Test func anEvictedKeyGivesItsLeaseBack() {
        let table = RateLimitTable(maxKeys: 64)   // one key per shard
        _ = take(table, key: 1, at: 0)
        answer(table, key: 1, at: 0, granted: 3, current: 3, forRequest: true)
        _ = take(table, key: 1 + UInt64(RateLimitTable.shardCount), at: 1)   // same shard: evicts key 1
        #expect(returns(table, at: 2).map(\.tokens) == [2])
    }

    @Test func theNextRoomOfASlidingWindow() {
        // 100 × (1 − f) + 50 + 1 ≤ 101 from f = 0.5 on.
        let window = SlidingWindow(current: 50, previous: 100, elapsed: 0.25)
        #expect(window.nextRoom(limit: 101, windowStart: 0, windowLength: 1000) == 501)
        #expect(SlidingWindow(current: 100, previous: 0, elapsed: 0).nextRoom(limit: 100, windowStart: 0, windowLength: 1000) == 1000,
                "the current window alone is full: the next one")
    }
}
