@testable import Portcullis
import Testing

/// Flood summaries against a count of what arrived: in batches that span seconds and arrive out
/// of order, every event is either written or counted in a summary that follows it.
@Suite struct AuditAggregatorTests {
    @Test func everyEventIsAccountedFor() {
        var generator = SystemRandomNumberGenerator()
        var aggregator = AuditAggregator()
        var arrived: [String: Int] = [:]
        var accounted: [String: Int] = [:]
        var written: [String: Int] = [:]
        func account(_ event: AuditEvent) {
            let key = "\(event.type) \(event.clientIP ?? "")"
            let repeated = event.details.first { $0.0 == "repeated" }.map { value -> Int in
                if case .number(let count) = value.1 { return Int(count) }
                return 0
            }
            accounted[key, default: 0] += repeated ?? 1
            written[key, default: 0] += 1
        }
        var now: Int64 = 1_000_000
        for step in 0..<200 {
            // A batch every 50 ms; floods for 6 s, then quiet.
            if step < 120 {
                for _ in 0..<Int.random(in: 0...30, using: &generator) {
                    let type: AuditEventType = Bool.random(using: &generator) ? .rateLimitExceeded : .adminAuthFailure
                    let client = ["198.51.100.1", "198.51.100.2", "198.51.100.3"].randomElement(using: &generator)!
                    let event = AuditEvent(type, milliseconds: now - Int64.random(in: 0...120, using: &generator), clientIP: client)
                    arrived["\(type) \(client)", default: 0] += 1
                    if let passed = aggregator.admit(event) { account(passed) }
                }
            }
            for summary in aggregator.summaries(nowMilliseconds: now) { account(summary) }
            now += 50
        }
        #expect(accounted == arrived)
        for (key, count) in written { #expect(count <= 10, "\(key): \(count) lines for a 6 s flood") }
        #expect(aggregator.summaries(nowMilliseconds: now, final: true).isEmpty, "nothing left after a quiet second")
    }

    @Test func stoppingWritesWhatIsPending() {
        var aggregator = AuditAggregator()
        for offset in 0..<5 {
            _ = aggregator.admit(AuditEvent(.ipBlocked, milliseconds: 5_000 + Int64(offset), clientIP: "192.0.2.1"))
        }
        let final = aggregator.summaries(nowMilliseconds: 5_010, final: true)
        #expect(final.count == 1 && final.first?.details.contains { $0.0 == "repeated" } == true)
    }
}
