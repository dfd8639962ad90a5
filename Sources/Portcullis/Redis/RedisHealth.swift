import Logging
import Synchronization

/// Whether Redis is reachable, as the process sees it through its workers' connections: one
/// `REDIS_UNAVAILABLE` line when it goes away and one `REDIS_RESTORED` when it is back, however
/// many workers notice.
final class RedisHealth: Sendable {
    private enum State: Int {
        case unknown, up, down
    }

    private let state = Atomic<Int>(State.unknown.rawValue)

    var isDown: Bool { state.load(ordering: .relaxed) == State.down.rawValue }

    func lost(reason: String, log: Logger) {
        if state.exchange(State.down.rawValue, ordering: .relaxed) != State.down.rawValue {
            log.error("REDIS_UNAVAILABLE: \(reason); rate limits follow on_redis_failure until it is back (reconnecting with backoff)")
        }
    }

    func restored(log: Logger) {
        switch State(rawValue: state.exchange(State.up.rawValue, ordering: .relaxed)) {
        case .down: log.notice("REDIS_RESTORED: counts are shared again")
        case .unknown: log.info("redis connected")
        default: break
        }
    }
}
