/// A Prometheus histogram of durations, updated by one worker with relaxed atomics and read by
/// the admin thread: fixed buckets (seconds), a sum and a count.
final class Histogram: Sendable {
    /// Upper bounds in seconds, then +Inf.
    static let bounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    private static let boundsNanoseconds: [UInt64] = bounds.map { UInt64($0 * 1_000_000_000) }

    /// Observations at or under each bound (not cumulative; the renderer adds them up), and
    /// over the last one.
    let buckets = (0...Histogram.bounds.count).map { _ in Counter() }
    let sumMicroseconds = Counter()
    let count = Counter()

    @inline(__always)
    func observe(nanoseconds: UInt64) {
        var index = 0
        while index < Self.boundsNanoseconds.count && nanoseconds > Self.boundsNanoseconds[index] { index += 1 }
        buckets[index].add(1)
        sumMicroseconds.add(Int(nanoseconds / 1000))
        count.add(1)
    }
}
