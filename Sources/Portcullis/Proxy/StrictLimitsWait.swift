/// A request waiting for its strict rate limits in Redis (`ProxyExchange+Policy`): where it
/// goes once they pass, how many answers are still awaited, and how the answers so far came
/// out. Plain values, the exchange's for its current request (`ProxyExchange.strictWait`);
/// the exchange checks that an answer still belongs to that request before passing it on.
struct StrictLimitsWait {
    /// How the strict rate limits came out.
    enum Outcome: Equatable {
        case admitted
        /// The first rule that refused.
        case rejected(rule: Int)
        /// Redis failed with `on_redis_failure = "deny"`.
        case unavailable
    }

    /// Where the request goes once every limit admitted it.
    private(set) var upstreamIndex = 0
    private(set) var body = BodyLimits(max: 0, buffer: 0)
    /// Answers still awaited.
    private(set) var pending = 0
    private(set) var outcome = Outcome.admitted

    /// Starts waiting for `answers` answers, the request bound for the pool at `upstreamIndex`.
    mutating func begin(upstreamIndex: Int, body: BodyLimits, answers: Int) {
        self.upstreamIndex = upstreamIndex
        self.body = body
        pending = answers
        outcome = .admitted
    }

    /// One answer arrived: a refusal by `rule` (nil: admitted, or no verdict). True when it was
    /// the last one awaited. A request refused once stays refused by that first rule.
    mutating func answered(refusedBy rule: Int?) -> Bool {
        if let rule, outcome == .admitted { outcome = .rejected(rule: rule) }
        pending -= 1
        return pending == 0
    }

    /// Redis failed and the policy denies: whatever the other answers say, the request gets a 503.
    mutating func redisUnavailable() {
        outcome = .unavailable
    }
}
