@testable import Portcullis
import Testing

/// A request body's time and rate limits (`BodyClock`), driven with explicit times: 1 KB a
/// second over 10 s periods, 60 s in all, the exchange begun at 0 s and its forwarding at 1 s.
@Suite struct BodyClockTests {
    private static let second: UInt64 = 1_000_000_000

    private func started(bodyDone: Bool = false, minimumRate: Int64 = 1024) -> BodyClock {
        var clock = BodyClock()
        clock.start(now: Self.second, exchangeStartedAt: 0, bodyDone: bodyDone, minimumRate: minimumRate, period: 10 * Self.second,
                    totalTime: 60 * Self.second)
        return clock
    }

    @Test func aBodyAtTheMinimumRateGoesOnPeriodAfterPeriod() {
        var clock = started()
        #expect(clock.checkAt == 11 * Self.second && clock.endsAt == 60 * Self.second && clock.nextDeadline == 11 * Self.second)
        clock.count(10 * 1024)
        #expect(clock.check(now: 11 * Self.second) == nil)
        #expect(clock.checkAt == 21 * Self.second)
        // The next period counts only its own bytes: one byte short of 1 KB a second.
        clock.count(10 * 1024 - 1)
        #expect(clock.check(now: 21 * Self.second) == "body_rate_below_minimum")
    }

    @Test func aBodyHeldBackByTheGatewayIsExcusedForThatPeriodOnly() {
        var clock = started()
        clock.count(10)
        clock.holdBack()
        #expect(clock.check(now: 11 * Self.second) == nil)
        clock.count(10)
        #expect(clock.check(now: 21 * Self.second) == "body_rate_below_minimum")
    }

    @Test func theTotalTimeEndsEvenASteadyBody() {
        var clock = started()
        var now = Self.second
        for _ in 0..<5 {
            now += 10 * Self.second
            clock.count(100 * 1024)
            #expect(clock.check(now: now) == nil)
        }
        // 51 s: the next check would be at 61 s, after the body's time is up.
        #expect(clock.nextDeadline == 60 * Self.second)
        clock.count(100 * 1024)
        #expect(clock.check(now: 60 * Self.second) == "body_time_limit")
    }

    @Test func noRateIsCheckedWithoutABodyOrWithTheMinimumOff() {
        #expect(started(bodyDone: true).checkAt == .max)
        var off = started(minimumRate: 0)
        #expect(off.checkAt == .max && off.nextDeadline == 60 * Self.second)
        #expect(off.check(now: 30 * Self.second) == nil)
        #expect(off.checkAt == .max)
    }

    @Test func aNewStartForgetsTheLastExchange() {
        var clock = started()
        clock.holdBack()
        clock.count(1 << 20)
        clock.start(now: 100 * Self.second, exchangeStartedAt: 99 * Self.second, bodyDone: false, minimumRate: 1024,
                    period: 10 * Self.second, totalTime: 60 * Self.second)
        #expect(clock.endsAt == 159 * Self.second)
        #expect(clock.check(now: 110 * Self.second) == "body_rate_below_minimum")
    }
}
