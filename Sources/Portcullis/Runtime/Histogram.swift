import Synchronization

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

/// Counters with labels from the configuration (routes, rate-limit rules), shared by every
/// worker and kept across reloads by label, so the label set stays bounded by the config.
final class LabeledCounters: Sendable {
    private let families = Mutex<[String: [Counter]]>([:])
    private let width: Int

    /// Each label gets `width` counters (status classes, outcomes …).
    init(width: Int) {
        self.width = width
    }

    /// The counters of `label`, created at first use (off the request path: when a snapshot is built).
    func counters(for label: String) -> [Counter] {
        families.withLock { all in
            if let existing = all[label] { return existing }
            let made = (0..<width).map { _ in Counter() }
            all[label] = made
            return made
        }
    }

    /// Every label with its values, sorted by label.
    func values() -> [(String, [Int])] {
        families.withLock { all in all.map { ($0.key, $0.value.map(\.value)) } }.sorted { $0.0 < $1.0 }
    }
}
