import Glibc
import Synchronization

/// Wall-clock time for rate-limit windows, read from the worker's cached monotonic clock plus
/// an offset. With Redis the offset is corrected to Redis's `TIME`, so every instance of the
/// fleet agrees on window boundaries even when host clocks drift apart.
final class FleetClock: Sendable {
    /// Nanoseconds to add to the monotonic clock to get fleet time.
    private let offset: Atomic<Int64>

    init() {
        var wall = timespec()
        clock_gettime(CLOCK_REALTIME, &wall)
        let wallNanos = Int64(wall.tv_sec) * 1_000_000_000 + Int64(wall.tv_nsec)
        offset = Atomic(wallNanos - Int64(MonotonicClock.now()))
    }

    /// Fleet time in nanoseconds since the epoch for a monotonic reading.
    @inline(__always)
    func nanoseconds(monotonic: UInt64) -> Int64 {
        Int64(monotonic) &+ offset.load(ordering: .relaxed)
    }

    /// Aligns the clock with a reference (Redis `TIME`) read at `monotonic`.
    func align(referenceNanoseconds: Int64, monotonic: UInt64) {
        offset.store(referenceNanoseconds - Int64(monotonic), ordering: .relaxed)
    }
}
