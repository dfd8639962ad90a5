/// Failed admin authentications, per source address: past `maxFailures` within a minute the
/// source gets 429 on every endpoint that needs the token, whatever token it sends, until
/// `lockout` has passed. Guessing a 32-character token is hopeless anyway; this keeps a flood
/// of guesses from filling the audit log and costing the control thread. Runs on the control
/// thread only (no lock). Memory is bounded: sources are forgotten once their minute and
/// lockout are over, and at most `maxSources` are tracked (the table is cleared past that; a
/// flood from that many addresses is no guess at the token either).
final class AdminAuthThrottle {
    private struct Source {
        var windowStart: UInt64
        var failures: Int
        var lockedUntil: UInt64
    }

    private let maxFailures: Int
    private let lockout: UInt64
    private var sources: [String: Source] = [:]
    private static let window: UInt64 = 60_000_000_000
    private static let maxSources = 10_000

    /// `maxFailures` 0 turns throttling off.
    init(maxFailures: Int, lockout: UInt64) {
        self.maxFailures = maxFailures
        self.lockout = lockout
    }

    /// Seconds until `source` may try again, or nil when it may now.
    func retryAfter(_ source: String, now: UInt64) -> Int? {
        guard let state = sources[source], state.lockedUntil > now else { return nil }
        return Int((state.lockedUntil - now + 999_999_999) / 1_000_000_000)
    }

    /// Records a failure; true when it locks the source out.
    func recordFailure(_ source: String, now: UInt64) -> Bool {
        guard maxFailures > 0 else { return false }
        if sources.count >= Self.maxSources { forgetExpired(now: now) }
        if sources.count >= Self.maxSources { sources.removeAll(keepingCapacity: true) }
        var state = sources[source] ?? Source(windowStart: now, failures: 0, lockedUntil: 0)
        if now - state.windowStart >= Self.window {
            state.windowStart = now
            state.failures = 0
        }
        state.failures += 1
        let locks = state.failures >= maxFailures
        if locks {
            state.lockedUntil = now + lockout
            state.failures = 0
            state.windowStart = now
        }
        sources[source] = state
        return locks
    }

    private func forgetExpired(now: UInt64) {
        sources = sources.filter { now - $0.value.windowStart < Self.window || $0.value.lockedUntil > now }
    }
}
