/// A request body's clock: `client_body_total`, and `client_body_min_rate` measured over each
/// period of `client_body_rate_period` (the first is the grace period). It keeps the current
/// period's start, the body bytes read in it, and whether the gateway held the body back in it
/// (its upstream's buffer full), which excuses a low rate. Connecting to the upstream is no
/// excuse: the client's bytes wait in the socket meanwhile and are all counted once read.
///
/// Plain values, one per exchange (`Exchange.bodyClock`), started when the exchange begins
/// forwarding; the connection's deadline includes `nextDeadline`.
struct BodyClock {
    /// When the current period's rate is checked (`.max`: never).
    private(set) var checkAt: UInt64 = .max
    /// When the body's time is up, however steadily it arrives.
    private(set) var endsAt: UInt64 = .max
    private var minimumRate: Int64 = 0
    private var period: UInt64 = 0
    private var periodStart: UInt64 = 0
    private var bytesInPeriod: Int64 = 0
    private var heldBack = false

    /// Starts the clock of an exchange that began at `exchangeStartedAt` (its head complete);
    /// `bodyDone` when there is no body to wait for. A `minimumRate` of 0 checks no rate.
    mutating func start(now: UInt64, exchangeStartedAt: UInt64, bodyDone: Bool, minimumRate: Int64, period: UInt64, totalTime: UInt64) {
        self.minimumRate = minimumRate
        self.period = period
        endsAt = exchangeStartedAt + totalTime
        beginPeriod(at: now)
        if bodyDone { checkAt = .max }
    }

    /// A new period, its rate checked at its end (never with the minimum off).
    private mutating func beginPeriod(at now: UInt64) {
        periodStart = now
        bytesInPeriod = 0
        heldBack = false
        checkAt = minimumRate == 0 ? .max : now + period
    }

    /// The earlier of the next rate check and the end of the body's time.
    var nextDeadline: UInt64 {
        min(checkAt, endsAt)
    }

    /// Body bytes read from the client.
    @inline(__always)
    mutating func count(_ bytes: Int) {
        bytesInPeriod += Int64(bytes)
    }

    /// The gateway stopped reading the body in this period (the upstream's buffer is full).
    mutating func holdBack() {
        heldBack = true
    }

    /// At `nextDeadline`: why the body is refused (`body_time_limit`, `body_rate_below_minimum`),
    /// or nil when it may go on, the next period measured from `now`.
    mutating func check(now: UInt64) -> String? {
        if now >= endsAt { return "body_time_limit" }
        let elapsed = max(now - periodStart, 1)
        let rate = bytesInPeriod * 1_000_000_000 / Int64(elapsed)
        if rate < minimumRate && !heldBack { return "body_rate_below_minimum" }
        beginPeriod(at: now)
        return nil
    }
}
