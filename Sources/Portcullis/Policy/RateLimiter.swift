/// A snapshot's rate-limit rules, compiled, and the decision for one request: every matching
/// rule counts it in the process-wide `RateLimitTable` (fallback rules only when no other rule
/// matches); any rule over its limit rejects it. Allocates nothing per request.
struct RateLimiter: Sendable {
    /// One compiled `[[rate_limits]]` rule. A class, not a struct: the request path takes the
    /// matching rules in turn, and a reference costs one retain where a copy costs one per field.
    final class Rule: Sendable {
        let name: String
        let pattern: PathPattern
        let limit: Int64
        let windowNanoseconds: Int64
        let key: RateLimitRuleSettings.Key
        /// Lower-case field name for `header:` keys.
        let headerName: [UInt8]
        let mode: RateLimitRuleSettings.Mode
        /// Counts only requests no other rule matches.
        let isFallback: Bool
        /// `"<name>"` (a structured-field string) for `RateLimit-Policy` and `RateLimit`.
        let policyName: [UInt8]
        /// Mixed into every key's hash: a rule that changes starts new counters.
        let seed: UInt64
        /// `<key_prefix>{rl:<name>:` for counters shared through Redis; empty when local.
        let sharedPrefix: [UInt8]
        /// `,"rule":"<name>"` for 429 bodies.
        let jsonName: [UInt8]
        /// Decisions, [admitted, rejected], shared by the workers.
        let decisions: [Counter]

        /// Compiles one `[[rate_limits]]` rule (see `RateLimiter.init` for the arguments).
        init(_ rule: RateLimitRuleSettings, caseInsensitivePaths: Bool, sharedKeyPrefix: String?, decisionCounters: LabeledCounters) {
            name = rule.name
            pattern = PathPattern(rule.match, caseInsensitive: caseInsensitivePaths)!
            limit = Int64(rule.limit)
            windowNanoseconds = Int64(rule.window)
            key = rule.key
            headerName = if case .header(let name) = rule.key { Array(name.utf8) } else { [] }
            mode = rule.mode
            isFallback = rule.fallback
            policyName = Array("\"\(rule.name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\"".utf8)
            seed = KeyHash.hash(Array("\(rule.name)|\(rule.match)|\(rule.limit)|\(rule.window)|\(rule.key)".utf8), seed: 0x5EED)
            sharedPrefix = sharedKeyPrefix.map { Array("\($0){rl:\(rule.name):".utf8) } ?? []
            jsonName = Array(",\"rule\":\(JSONText.quoted(rule.name))".utf8)
            decisions = decisionCounters.counters(for: rule.name)
        }
    }

    let rules: [Rule]
    let table: RateLimitTable
    let clock: FleetClock
    let headerStyle: RateLimitingSettings.HeaderStyle

    /// `sharedKeyPrefix` is Redis's `key_prefix` when counters are shared, else nil.
    /// `caseInsensitivePaths`: globs compare with the lower-case matching form of paths.
    init(settings: [RateLimitRuleSettings], caseInsensitivePaths: Bool = true, table: RateLimitTable, clock: FleetClock, sharedKeyPrefix: String?,
         decisionCounters: LabeledCounters, headerStyle: RateLimitingSettings.HeaderStyle = .xRateLimit) {
        self.table = table
        self.clock = clock
        self.headerStyle = headerStyle
        rules = settings.map { rule in
            Rule(rule, caseInsensitivePaths: caseInsensitivePaths, sharedKeyPrefix: sharedKeyPrefix, decisionCounters: decisionCounters)
        }
    }

    /// The request facts rules are keyed by.
    struct Subject {
        let method: UnsafeBufferPointer<UInt8>
        let path: UnsafeBufferPointer<UInt8>
        let clientIP: UnsafeBufferPointer<UInt8>
        let routeIndex: Int
        let head: RequestHead
        let source: UnsafePointer<UInt8>
    }

    /// Whether rules can use Redis for this request.
    enum RedisAvailability {
        /// No Redis configured: every rule is decided by this process alone.
        case none
        case up
        /// Configured but unreachable: the failure policy decides.
        case down(RedisSettings.FailurePolicy)
    }

    /// What one request gets.
    enum Decision: Equatable {
        case admitted
        /// Rejected by the rule at this index.
        case rejected(rule: Int)
        /// Redis is unreachable and `on_redis_failure = "deny"`: 503.
        case unavailable
        /// Strict rules must ask Redis (`strictChecks`) before the request goes on.
        case checkStrict
    }

    /// The state of the rule that decided (the rejecting one, else the one with the fewest
    /// requests left), for the rate-limit fields.
    struct Report {
        var rule: Int
        var remaining: Int64
        /// End of the current window, epoch seconds.
        var reset: Int64
        /// Seconds until then (rounded up).
        var resetAfter: Int64
        /// Set when this rule rejected the request.
        var retryAfter: Int64?

        /// Keeps the rejecting report, else the one with the fewest requests left.
        static func tighter(_ a: Report?, _ b: Report) -> Report {
            guard let a else { return b }
            if a.retryAfter != nil { return a }
            if b.retryAfter != nil { return b }
            return b.remaining < a.remaining ? b : a
        }
    }

    /// A question for Redis about one rule and key: a strict rule's check-and-increment, or a
    /// lease of tokens for a batched rule (which the request waits for when this instance has no
    /// token left, and does not when the lease only runs low).
    struct StrictCheck {
        enum Kind: Equatable {
            case strict
            case lease
            case refill
        }
        let kind: Kind
        let rule: Int
        /// The local counter's key, for counting the request here too.
        let key: UInt64
        /// `<prefix>{rl:<rule>:<key>}` (the window number is appended when sent).
        let counterName: [UInt8]
        let window: Int64
        let elapsed: Double
    }

    /// Counts the request under every matching rule (locally, or as strict checks for Redis);
    /// fallback rules count it only when no other rule matches. Keeps the deciding rule's state
    /// in `report`.
    func decide(_ subject: Subject, now monotonic: UInt64, redis: RedisAvailability, scratch: inout [UInt8],
                report: inout Report?, strictChecks: inout [StrictCheck]) -> Decision {
        report = nil
        strictChecks.removeAll(keepingCapacity: true)
        guard !rules.isEmpty else { return .admitted }
        let now = clock.nanoseconds(monotonic: monotonic)
        var matchedSpecific = false
        for index in rules.indices where !rules[index].isFallback && rules[index].pattern.matches(method: subject.method, path: subject.path) {
            matchedSpecific = true
            if let final = count(ruleAt: index, subject, now: now, redis: redis, scratch: &scratch, report: &report, strictChecks: &strictChecks) {
                return final
            }
        }
        if !matchedSpecific {
            for index in rules.indices where rules[index].isFallback && rules[index].pattern.matches(method: subject.method, path: subject.path) {
                if let final = count(ruleAt: index, subject, now: now, redis: redis, scratch: &scratch, report: &report, strictChecks: &strictChecks) {
                    return final
                }
            }
        }
        if strictChecks.isEmpty { return .admitted }
        return strictChecks.contains { $0.kind != .refill } ? .checkStrict : .admitted
    }

    /// Counts the request under one matching rule; returns a decision when this rule settles
    /// the request (a rejection, or Redis down with `deny`), nil to go on with the next rule.
    @inline(__always)
    private func count(ruleAt index: Int, _ subject: Subject, now: Int64, redis: RedisAvailability, scratch: inout [UInt8],
                       report: inout Report?, strictChecks: inout [StrictCheck]) -> Decision? {
        let rule = rules[index]
        switch redis {
        case .down(.allow): return nil
        case .down(.deny): return .unavailable
        default: break
        }
        let windowID = now / rule.windowNanoseconds
        let elapsed = Double(now % rule.windowNanoseconds) / Double(rule.windowNanoseconds)
        let result: (admitted: Bool, window: SlidingWindow)? = withKey(of: rule, subject) { key in
            let hash = KeyHash.hash(key, seed: rule.seed)
            guard !rule.sharedPrefix.isEmpty else {
                return table.hit(key: hash, window: windowID, elapsed: elapsed, limit: rule.limit)
            }
            scratch.removeAll(keepingCapacity: true)
            scratch.append(contentsOf: rule.sharedPrefix)
            scratch.append(contentsOf: key)
            scratch.append(UInt8(ascii: "}"))
            guard case .up = redis else {
                return scratch.withUnsafeBufferPointer { name in
                    table.hit(key: hash, window: windowID, elapsed: elapsed, limit: rule.limit, sharedName: name,
                              windowLength: rule.windowNanoseconds)
                }
            }
            if rule.mode == .strict {
                strictChecks.append(StrictCheck(kind: .strict, rule: index, key: hash, counterName: scratch, window: windowID, elapsed: elapsed))
                return nil
            }
            let lease = scratch.withUnsafeBufferPointer { name in
                table.takeLeased(key: hash, window: windowID, elapsed: elapsed, now: now, sharedName: name, windowLength: rule.windowNanoseconds)
            }
            switch lease {
            case .admitted(let view, let refill):
                if refill {
                    strictChecks.append(StrictCheck(kind: .refill, rule: index, key: hash, counterName: scratch, window: windowID, elapsed: elapsed))
                }
                return (true, view)
            case .rejected(let view):
                return (false, view)
            case .needsLease:
                strictChecks.append(StrictCheck(kind: .lease, rule: index, key: hash, counterName: scratch, window: windowID, elapsed: elapsed))
                return nil
            }
        }
        guard let result else { return nil }
        report = Report.tighter(report, decided(rule: index, window: windowID, admitted: result.admitted, counts: result.window))
        return result.admitted ? nil : .rejected(rule: index)
    }

    /// The report for a strict rule from Redis's answer: whether it admitted the request and
    /// the counts it saw (the current one including this request when admitted).
    func strictReport(_ check: StrictCheck, admitted: Bool, current: Int64, previous: Int64) -> Report {
        decided(rule: check.rule, window: check.window, admitted: admitted,
                counts: SlidingWindow(current: current, previous: previous, elapsed: check.elapsed))
    }

    /// Stores a lease Redis answered (see `RateLimitTable.applyLease`); for a request that
    /// waited on it (`.lease`), the report of its rule.
    func leaseAnswered(_ check: StrictCheck, granted: Int64, current: Int64, previous: Int64, monotonic: UInt64) -> Report? {
        let rule = rules[check.rule]
        let result = check.counterName.withUnsafeBufferPointer { name in
            table.applyLease(key: check.key, window: check.window, elapsed: check.elapsed, now: clock.nanoseconds(monotonic: monotonic),
                             granted: granted, current: current, previous: previous, limit: rule.limit, sharedName: name,
                             windowLength: rule.windowNanoseconds, forRequest: check.kind == .lease)
        }
        guard check.kind == .lease else { return nil }
        return decided(rule: check.rule, window: check.window, admitted: result.admitted, counts: result.window)
    }

    /// A refill Redis did not answer.
    func refillFailed(_ check: StrictCheck) {
        table.refillFailed(key: check.key)
    }

    /// Decides a strict rule, or a request that waited for a lease, with this instance's own
    /// counts (Redis failed while the request waited, `local` policy).
    func strictFallback(_ check: StrictCheck) -> Report {
        let result = table.hit(key: check.key, window: check.window, elapsed: check.elapsed, limit: rules[check.rule].limit)
        return decided(rule: check.rule, window: check.window, admitted: result.admitted, counts: result.window)
    }

    /// Counts here a request Redis admitted, so an outage starts from this instance's own counts.
    func rememberAdmitted(_ check: StrictCheck) {
        _ = table.hit(key: check.key, window: check.window, elapsed: check.elapsed, limit: .max)
    }

    /// Counts the decision in the rule's metrics and makes its report.
    @inline(__always)
    private func decided(rule index: Int, window: Int64, admitted: Bool, counts: SlidingWindow) -> Report {
        let rule = rules[index]
        rule.decisions[admitted ? 0 : 1].add(1)
        let windowSeconds = rule.windowNanoseconds / 1_000_000_000
        return Report(rule: index, remaining: admitted ? counts.remaining(limit: rule.limit) : 0,
                      reset: (window + 1) * windowSeconds,
                      resetAfter: Int64((Double(windowSeconds) * (1 - counts.elapsed)).rounded(.up)),
                      retryAfter: admitted ? nil : counts.retryAfter(limit: rule.limit, windowSeconds: rule.windowNanoseconds / 1_000_000_000))
    }

    /// Writes the deciding rule's fields in the configured style: `X-RateLimit-Limit`,
    /// `-Remaining`, `-Reset` (epoch seconds), and/or `RateLimit-Policy: "<name>";q=<limit>;w=<window>`
    /// and `RateLimit: "<name>";r=<remaining>;t=<seconds to reset>`; `Retry-After` for a rejection.
    func render(_ report: Report?, into fields: inout [UInt8]) {
        fields.removeAll(keepingCapacity: true)
        guard let report else { return }
        let rule = rules[report.rule]
        // Written on the stack and appended in one go: one capacity check, not one a piece.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.renderedCapacity) { block in
            let start = block.baseAddress!
            var end = start
            if headerStyle != .ietf {
                Self.write("X-RateLimit-Limit: ", rule.limit, at: &end)
                Self.write("X-RateLimit-Remaining: ", report.remaining, at: &end)
                Self.write("X-RateLimit-Reset: ", report.reset, at: &end)
            }
            if headerStyle != .xRateLimit {
                Self.write("RateLimit-Policy: ", rule.policyName, "q", rule.limit, "w", rule.windowNanoseconds / 1_000_000_000, at: &end)
                Self.write("RateLimit: ", rule.policyName, "r", report.remaining, "t", report.resetAfter, at: &end)
            }
            if let retryAfter = report.retryAfter { Self.write("Retry-After: ", retryAfter, at: &end) }
            fields.append(contentsOf: UnsafeBufferPointer(start: start, count: end - start))
        }
    }

    /// Room for the longest block `render` writes: six field names (111 bytes), nine values of
    /// at most 20 characters, four parameters, six line ends, and the policy name twice (a
    /// quoted name of at most 64 characters, each one escaped).
    private static let renderedCapacity = 320 + 2 * (2 + 2 * RateLimitRuleSettings.maxNameLength)

    /// Calls `body` with the bytes the rule counts this request under.
    private func withKey<R>(of rule: Rule, _ subject: Subject, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        switch rule.key {
        case .clientIP:
            return body(subject.clientIP)
        case .route:
            return withUnsafeBytes(of: subject.routeIndex) { body($0.bindMemory(to: UInt8.self)) }
        case .header:
            for field in subject.head.fields
            where Bytes.equalsLowercase(subject.source + Int(field.nameStart), Int(field.nameEnd - field.nameStart), rule.headerName) {
                return body(UnsafeBufferPointer(start: subject.source + Int(field.valueStart), count: min(Int(field.valueEnd - field.valueStart), 256)))
            }
            // Without the header the client is counted by address, never in one shared bucket.
            return body(subject.clientIP)
        }
    }

    /// Writes `name`, `value` and a line end at `end`, and moves `end` past them.
    @inline(__always)
    private static func write(_ name: StaticString, _ value: Int64, at end: inout UnsafeMutablePointer<UInt8>) {
        write(name, at: &end)
        end += DecimalText.write(value, at: end)
        writeLineEnd(at: &end)
    }

    /// Writes `name`, then one structured-field item: `policy;<first>=<value>;<second>=<value>`.
    private static func write(_ name: StaticString, _ policy: [UInt8], _ first: StaticString, _ firstValue: Int64,
                              _ second: StaticString, _ secondValue: Int64, at end: inout UnsafeMutablePointer<UInt8>) {
        write(name, at: &end)
        policy.withUnsafeBufferPointer { end.update(from: $0.baseAddress!, count: $0.count) }
        end += policy.count
        writeParameter(first, firstValue, at: &end)
        writeParameter(second, secondValue, at: &end)
        writeLineEnd(at: &end)
    }

    /// `;<name>=<value>`.
    @inline(__always)
    private static func writeParameter(_ name: StaticString, _ value: Int64, at end: inout UnsafeMutablePointer<UInt8>) {
        end[0] = UInt8(ascii: ";")
        end += 1
        write(name, at: &end)
        end[0] = UInt8(ascii: "=")
        end += 1
        end += DecimalText.write(value, at: end)
    }

    @inline(__always)
    private static func write(_ text: StaticString, at end: inout UnsafeMutablePointer<UInt8>) {
        end.update(from: text.utf8Start, count: text.utf8CodeUnitCount)
        end += text.utf8CodeUnitCount
    }

    @inline(__always)
    private static func writeLineEnd(at end: inout UnsafeMutablePointer<UInt8>) {
        end[0] = ASCII.cr
        end[1] = ASCII.lf
        end += 2
    }
}

/// FNV-1a over bytes with a seed: a fast 64-bit key for the counter table (the seed is the
/// rule's, so equal keys of different rules never share a counter).
enum KeyHash {
    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>, seed: UInt64) -> UInt64 {
        var value: UInt64 = 0xCBF2_9CE4_8422_2325 ^ seed
        for byte in bytes {
            value ^= UInt64(byte)
            value = value &* 0x0000_0100_0000_01B3
        }
        return value ^ (value >> 29)
    }

    static func hash(_ bytes: [UInt8], seed: UInt64) -> UInt64 {
        bytes.withUnsafeBufferPointer { hash($0, seed: seed) }
    }
}

/// Decimal digits written into bytes without building a String.
enum DecimalText {
    /// The most bytes `write` produces (`-9223372036854775808`).
    static let maxLength = 20

    /// Writes `value` at `destination` (room for `maxLength` bytes) and returns how many bytes
    /// it wrote: the digits are produced backwards on the stack, then copied in order.
    @inline(__always)
    static func write(_ value: Int64, at destination: UnsafeMutablePointer<UInt8>) -> Int {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxLength) { digits in
            var magnitude = value.magnitude
            var start = digits.count
            repeat {
                start -= 1
                digits[start] = ASCII.zero + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            var written = 0
            if value < 0 {
                destination[0] = UInt8(ascii: "-")
                written = 1
            }
            (destination + written).update(from: digits.baseAddress! + start, count: digits.count - start)
            return written + digits.count - start
        }
    }

    /// Appends `value` to `out`: one capacity check, not one a digit.
    static func append(_ value: Int64, to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxLength) { text in
            let count = write(value, at: text.baseAddress!)
            out.append(contentsOf: UnsafeBufferPointer(start: text.baseAddress!, count: count))
        }
    }
}
