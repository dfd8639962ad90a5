/// Summarises floods: of the events of one type from one client, the first goes out at once,
/// then at most one a second, carrying in `details.repeated` how many it stands for.
struct AuditAggregator {
    private struct Key: Hashable {
        let type: AuditEventType
        let client: String
    }

    private struct Window {
        var second: Int64
        var suppressed: Int64
        var latest: AuditEvent
    }

    private var windows: [Key: Window] = [:]

    /// Passes an event through now, or holds it back as part of this second's count.
    mutating func admit(_ event: AuditEvent) -> AuditEvent? {
        guard let client = event.clientIP else { return event }
        let key = Key(type: event.type, client: client)
        let second = event.milliseconds / 1000
        if var window = windows[key], window.second == second {
            window.suppressed += 1
            window.latest = event
            windows[key] = window
            return nil
        }
        windows[key] = Window(second: second, suppressed: 0, latest: event)
        return event
    }

    /// Summaries of the seconds that have ended: the latest event of each, with the count.
    mutating func summaries(nowMilliseconds: Int64) -> [AuditEvent] {
        let second = nowMilliseconds / 1000
        var out: [AuditEvent] = []
        for (key, window) in windows where window.second < second {
            if window.suppressed > 0 {
                var summary = window.latest
                summary.details.append(("repeated", .number(window.suppressed)))
                out.append(summary)
            }
            windows.removeValue(forKey: key)
        }
        return out.sorted { $0.milliseconds < $1.milliseconds }
    }
}
