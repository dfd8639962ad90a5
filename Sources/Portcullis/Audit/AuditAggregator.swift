/// Summarises floods: of the events of one type from one client, the first goes out at once;
/// every later one is counted, and once a second the count goes out as one summary (the latest
/// event with `details.repeated`), until a second passes with none. Every event is accounted
/// for: the first events plus the `repeated` counts add up to the events that arrived.
struct AuditAggregator {
    private struct Key: Hashable {
        let type: AuditEventType
        let client: String
    }

    /// A flood in progress: events held back since the last summary.
    private struct Flood {
        /// The second (of the fleet clock) the last event or summary went out in.
        var second: Int64
        var suppressed: Int64
        var latest: AuditEvent
    }

    private var floods: [Key: Flood] = [:]

    /// Passes an event through now (the first of its kind from its client), or counts it.
    mutating func admit(_ event: AuditEvent) -> AuditEvent? {
        guard let client = event.clientIP else { return event }
        let key = Key(type: event.type, client: client)
        if var flood = floods[key] {
            flood.suppressed += 1
            flood.latest = event
            floods[key] = flood
            return nil
        }
        floods[key] = Flood(second: event.milliseconds / 1000, suppressed: 0, latest: event)
        return event
    }

    /// The summaries due at `nowMilliseconds`: one per flood whose second has passed and that
    /// held events back; a flood with nothing held back is over. `final` (at stop) gives every
    /// pending count.
    mutating func summaries(nowMilliseconds: Int64, final: Bool = false) -> [AuditEvent] {
        let second = nowMilliseconds / 1000
        var out: [AuditEvent] = []
        for (key, flood) in floods where flood.second < second || final {
            guard flood.suppressed > 0 else {
                floods.removeValue(forKey: key)
                continue
            }
            var summary = flood.latest
            summary.details.append(("repeated", .number(flood.suppressed)))
            out.append(summary)
            floods[key] = Flood(second: second, suppressed: 0, latest: flood.latest)
        }
        if final { floods.removeAll() }
        return out.sorted { $0.milliseconds < $1.milliseconds }
    }
}
