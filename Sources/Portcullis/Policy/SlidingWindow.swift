/// The sliding-window counter (Cloudflare's approximation): the count of the current fixed
/// window plus the previous window's count weighted by the part of it still inside the sliding
/// window. O(1) memory per key; exact when traffic is even across the previous window.
struct SlidingWindow: Equatable {
    /// Requests admitted in the current fixed window.
    var current: Int64
    /// Requests admitted in the fixed window before it.
    var previous: Int64
    /// How far into the current window we are, 0 ..< 1.
    var elapsed: Double

    /// The estimated number of requests in the last window length.
    @inline(__always) var estimate: Double { Double(previous) * (1 - elapsed) + Double(current) }

    /// Whether one more request fits under `limit`.
    func admits(limit: Int64) -> Bool { estimate + 1 <= Double(limit) }

    /// Requests still allowed now (after counting the current one when it was admitted).
    func remaining(limit: Int64) -> Int64 { max(0, Int64((Double(limit) - estimate).rounded(.down))) }

    /// Seconds until one more request fits, at least 1: either the previous window's weight
    /// fades enough during this window, or the current window must become the previous one
    /// and fade in turn.
    func retryAfter(limit: Int64, windowSeconds: Int64) -> Int64 {
        let room = Double(limit - 1)
        let wait: Double
        if Double(current) <= room {
            // previous * (1 - f) + current <= limit - 1  ⇒  f >= 1 - (room - current) / previous
            let needed = previous > 0 ? 1 - (room - Double(current)) / Double(previous) : 0
            wait = (needed - elapsed) * Double(windowSeconds)
        } else {
            // Next window: current * (1 - f) <= limit - 1  ⇒  f >= 1 - room / current
            let needed = 1 - room / Double(current)
            wait = (1 - elapsed + needed) * Double(windowSeconds)
        }
        return max(1, Int64((wait - 1e-6).rounded(.up)))
    }

    /// Fleet-clock ns at which one more request fits, for counts of the window that starts at
    /// `windowStart`: when the previous window's weight has faded enough, or at the latest the
    /// next window's start (whose counts are not known yet).
    func nextRoom(limit: Int64, windowStart: Int64, windowLength: Int64) -> Int64 {
        let room = Double(limit - 1 - current)
        guard room >= 0, previous > 0 else { return windowStart + windowLength }
        // previous * (1 - f) + current + 1 <= limit  ⇒  f >= 1 - room / previous
        let needed = 1 - room / Double(previous)
        return windowStart + Int64((needed * Double(windowLength)).rounded(.up)) + 1
    }
}
