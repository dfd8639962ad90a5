
/// Counters with labels from the configuration (routes, rate-limit rules), shared by every
/// worker and kept across reloads by label, so the label set stays bounded by the config.
final class LabeledCounters: Sendable {
    private let families = Locked<[String: [Counter]]>([:])
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
