@testable import Portcullis
import Testing

/// How a request's strict rate limits come out from Redis's answers (`StrictLimitsWait`), in
/// whatever order they arrive.
@Suite struct StrictLimitsWaitTests {
    private let body = BodyLimits(max: 1 << 20, buffer: 0)

    /// Feeds `answers` to `wait` (a rule that refused, or nil) and says after which the wait was
    /// over (their indices).
    private func feed(_ wait: inout StrictLimitsWait, _ answers: [Int?]) -> [Int] {
        answers.indices.filter { wait.answered(refusedBy: answers[$0]) }
    }

    @Test func admittedByEveryRuleItGoesWhereItWasBound() {
        var wait = StrictLimitsWait()
        wait.begin(upstreamIndex: 2, body: body, answers: 3)
        #expect(feed(&wait, [nil, nil, nil]) == [2])
        #expect(wait.outcome == .admitted && wait.upstreamIndex == 2 && wait.body == body && wait.pending == 0)
    }

    @Test func theFirstRuleThatRefusesIsTheOneNamed() {
        var wait = StrictLimitsWait()
        wait.begin(upstreamIndex: 0, body: body, answers: 3)
        #expect(feed(&wait, [nil, 4, 1]) == [2])
        #expect(wait.outcome == .rejected(rule: 4))
    }

    /// With `on_redis_failure = "deny"`, a failure wins over a refusal, before or after it.
    @Test(arguments: [true, false]) func redisDeniedIsUnavailableWhateverElseCameBack(failureFirst: Bool) {
        var wait = StrictLimitsWait()
        wait.begin(upstreamIndex: 0, body: body, answers: 2)
        if failureFirst { wait.redisUnavailable() }
        #expect(feed(&wait, [failureFirst ? nil : 3]) == [])
        if !failureFirst { wait.redisUnavailable() }
        #expect(feed(&wait, [failureFirst ? 3 : nil]) == [0])
        #expect(wait.outcome == .unavailable)
    }

    @Test func aNewWaitForgetsTheLastRequestsOutcome() {
        var wait = StrictLimitsWait()
        wait.begin(upstreamIndex: 0, body: body, answers: 1)
        #expect(feed(&wait, [7]) == [0] && wait.outcome == .rejected(rule: 7))
        wait.begin(upstreamIndex: 1, body: body, answers: 1)
        #expect(wait.outcome == .admitted && wait.pending == 1)
        #expect(feed(&wait, [nil]) == [0])
        #expect(wait.outcome == .admitted && wait.upstreamIndex == 1)
    }
}
