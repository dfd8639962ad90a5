/// A snapshot's rate-limit rules, compiled, and the decision for one request: every matching
/// rule counts it in the process-wide `RateLimitTable`; any rule over its limit rejects it.
/// Allocates nothing per request.
struct RateLimiter: Sendable {
    /// One compiled `[[rate_limits]]` rule.
    struct Rule: Sendable {
        let name: String
        let pattern: PathPattern
        let limit: Int64
        let windowNanoseconds: Int64
        let key: RateLimitRuleSettings.Key
        /// Lower-case field name for `header:` keys.
        let headerName: [UInt8]
        let mode: RateLimitRuleSettings.Mode
        /// Mixed into every key's hash: a rule that changes starts new counters.
        let seed: UInt64
        /// `<key_prefix>{rl:<name>:` for counters shared through Redis; empty when local.
        let sharedPrefix: [UInt8]
        /// `,"rule":"<name>"` for 429 bodies.
        let jsonName: [UInt8]
    }

    let rules: [Rule]
    let table: RateLimitTable
    let clock: FleetClock

    init(settings: [RateLimitRuleSettings], table: RateLimitTable, clock: FleetClock, sharedKeyPrefix: String?) {
        self.table = table
        self.clock = clock
        rules = settings.map { rule in
            let identity = "\(rule.name)|\(rule.match)|\(rule.limit)|\(rule.window)|\(rule.key)"
            var headerName: [UInt8] = []
            if case .header(let name) = rule.key { headerName = Array(name.utf8) }
            return Rule(name: rule.name, pattern: PathPattern(rule.match)!, limit: Int64(rule.limit),
                        windowNanoseconds: Int64(rule.window), key: rule.key, headerName: headerName, mode: rule.mode,
                        seed: KeyHash.hash(Array(identity.utf8), seed: 0x5EED),
                        sharedPrefix: sharedKeyPrefix.map { Array("\($0){rl:\(rule.name):".utf8) } ?? [],
                        jsonName: Array(",\"rule\":\(JSONText.quoted(rule.name))".utf8))
        }
    }

    /// What one request gets.
    enum Decision: Equatable {
        case admitted
        /// Rejected by the rule at this index; retry after this many seconds.
        case rejected(rule: Int, retryAfter: Int64)
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

    /// Counts the request under every matching rule and writes the `X-RateLimit-*` fields of
    /// the most restrictive one (plus `Retry-After` when rejected) into `fields`.
    func decide(_ subject: Subject, now monotonic: UInt64, scratch: inout [UInt8], fields: inout [UInt8]) -> Decision {
        fields.removeAll(keepingCapacity: true)
        guard !rules.isEmpty else { return .admitted }
        let now = clock.nanoseconds(monotonic: monotonic)
        var tightest: (rule: Int, remaining: Int64, window: SlidingWindow)?
        var rejection: Decision?
        for index in rules.indices where rules[index].pattern.matches(method: subject.method, path: subject.path) {
            let rule = rules[index]
            let windowID = now / rule.windowNanoseconds
            let elapsed = Double(now % rule.windowNanoseconds) / Double(rule.windowNanoseconds)
            let result = withKey(of: rule, subject) { key in
                let hash = KeyHash.hash(key, seed: rule.seed)
                guard !rule.sharedPrefix.isEmpty else {
                    return table.hit(key: hash, window: windowID, elapsed: elapsed, limit: rule.limit, sharedName: UnsafeBufferPointer(start: nil, count: 0))
                }
                scratch.removeAll(keepingCapacity: true)
                scratch.append(contentsOf: rule.sharedPrefix)
                scratch.append(contentsOf: key)
                scratch.append(UInt8(ascii: "}"))
                return scratch.withUnsafeBufferPointer { name in
                    table.hit(key: hash, window: windowID, elapsed: elapsed, limit: rule.limit, sharedName: name)
                }
            }
            let remaining = result.window.remaining(limit: rule.limit)
            if !result.admitted && rejection == nil {
                rejection = .rejected(rule: index, retryAfter: result.window.retryAfter(limit: rule.limit, windowSeconds: rule.windowNanoseconds / 1_000_000_000))
                tightest = (index, 0, result.window)
            } else if rejection == nil && (tightest == nil || remaining < tightest!.remaining) {
                tightest = (index, remaining, result.window)
            }
        }
        guard let tightest else { return .admitted }
        let rule = rules[tightest.rule]
        let reset = (now / rule.windowNanoseconds + 1) * rule.windowNanoseconds / 1_000_000_000
        Self.appendField("X-RateLimit-Limit: ", rule.limit, to: &fields)
        Self.appendField("X-RateLimit-Remaining: ", tightest.remaining, to: &fields)
        Self.appendField("X-RateLimit-Reset: ", reset, to: &fields)
        if case .rejected(_, let retryAfter) = rejection { Self.appendField("Retry-After: ", retryAfter, to: &fields) }
        return rejection ?? .admitted
    }

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

    private static func appendField(_ name: StaticString, _ value: Int64, to fields: inout [UInt8]) {
        fields.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        DecimalText.append(value, to: &fields)
        fields.append(ASCII.cr)
        fields.append(ASCII.lf)
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

/// Decimal digits appended to a byte array without building a String.
enum DecimalText {
    static func append(_ value: Int64, to out: inout [UInt8]) {
        if value < 0 {
            out.append(UInt8(ascii: "-"))
            append(-value, to: &out)
            return
        }
        if value >= 10 { append(value / 10, to: &out) }
        out.append(ASCII.zero + UInt8(value % 10))
    }
}

/// JSON string quoting for names rendered once (not on the request path).
enum JSONText {
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += "\\u00" + String(scalar.value >> 4, radix: 16) + String(scalar.value & 15, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
