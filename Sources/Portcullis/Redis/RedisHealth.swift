import Logging
import Synchronization

/// Whether Redis is reachable, as the process sees it through its workers' connections: one
/// `REDIS_UNAVAILABLE` line when it goes away and one `REDIS_RESTORED` when it is back, however
/// many workers notice, and how many of those connections are ready now (`/readyz`).
final class RedisHealth: Sendable {
    private enum State: Int {
        case unknown, up, down
    }

    private let state = Atomic<Int>(State.unknown.rawValue)
    private let ready = Atomic<Int>(0)

    /// Workers whose connection is ready now.
    var readyConnections: Int { ready.load(ordering: .relaxed) }

    /// A connection was lost (or never came up). True when this call is the one that found
    /// Redis gone (and logged it).
    @discardableResult
    func lost(reason: String, wasReady: Bool, log: Logger) -> Bool {
        if wasReady { ready.subtract(1, ordering: .relaxed) }
        guard state.exchange(State.down.rawValue, ordering: .relaxed) != State.down.rawValue else { return false }
        log.error("REDIS_UNAVAILABLE: \(reason); rate limits follow on_redis_failure until it is back (reconnecting with backoff)")
        return true
    }

    /// A connection became ready. True when this call is the one that found Redis back after
    /// an outage (and logged it).
    @discardableResult
    func restored(log: Logger) -> Bool {
        ready.add(1, ordering: .relaxed)
        switch State(rawValue: state.exchange(State.up.rawValue, ordering: .relaxed)) {
        case .down:
            log.notice("REDIS_RESTORED: counts are shared again")
            return true
        case .unknown:
            log.info("redis connected")
            return false
        default:
            return false
        }
    }
}
