/// How many audit events of each type were written, since the start and recently (for
/// `portcullis status`). On the control thread, like the rest of `AuditLog`.
struct AuditTally {
    private(set) var sinceStart: [String: Int] = [:]
    /// The latest events, oldest overwritten first: enough to count a busy quarter of an hour
    /// approximately and a quiet one exactly.
    private var latest: [(milliseconds: Int64, type: String)] = []
    private var next = 0
    private static let capacity = 4096

    mutating func record(_ event: AuditEvent) {
        let type = event.type.rawValue
        sinceStart[type, default: 0] += 1
        if latest.count < Self.capacity {
            latest.append((event.milliseconds, type))
        } else {
            latest[next] = (event.milliseconds, type)
            next = (next + 1) % Self.capacity
        }
    }

    /// Events by type at or after `milliseconds` (epoch), among the latest kept.
    func since(milliseconds: Int64) -> [String: Int] {
        latest.reduce(into: [:]) { counts, event in
            if event.milliseconds >= milliseconds { counts[event.type, default: 0] += 1 }
        }
    }
}
