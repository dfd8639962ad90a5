/// `[[rate_limits]]`: one rule. Every rule whose `match` covers a request counts it; any rule
/// over its limit rejects it with 429.
public struct RateLimitRuleSettings: Sendable, Equatable {
    /// What a rule counts requests by.
    public enum Key: Sendable, Equatable {
        /// The client IP (after `trusted_proxies`).
        case clientIP
        /// A request header's value (requests without it are counted under the client IP).
        case header(String)
        /// The route: one counter for everyone.
        case route
    }

    /// How a rule is shared between gateway instances through Redis.
    public enum Mode: String, Sendable {
        /// Local, immediate decisions; increments sent to Redis every sync interval.
        case batched
        /// One atomic check-and-increment in Redis per request.
        case strict
    }

    /// Shown in 429 bodies, audit events and metrics (defaults to `match`).
    public var name: String
    /// Method (optional) and path glob: `"POST /api/v1/auth/*"`, `"GET /x"`, `"*"`.
    public var match: String
    public var limit: Int
    /// Window length in nanoseconds.
    public var window: UInt64
    public var key: Key
    public var mode: Mode
}

/// `[rate_limiting]`: the table shared by the workers, and auto-ban.
public struct RateLimitingSettings: Sendable, Equatable {
    /// Counters kept in memory at most (least recently used ones are evicted first).
    public var maxKeys: Int
    /// Ban a client rejected `autoBanRejections` times within `autoBanPeriod` for `autoBanDuration`
    /// (0 rejections: off).
    public var autoBanRejections: Int
    public var autoBanPeriod: UInt64
    public var autoBanDuration: UInt64
}

extension RateLimitRuleSettings {
    init?(reading table: TableReader) {
        defer { table.rejectUnknownKeys() }
        match = table.string("match", default: "")
        name = table.string("name", default: match)
        let pattern = PathPattern(match)
        if match.isEmpty || pattern == nil {
            table.report("match", "expected an optional method and a path glob like \"POST /api/v1/auth/*\" or \"*\", got \"\(match)\"")
        }
        limit = table.int("limit", default: 0, range: 1...100_000_000)
        if !table.contains("limit") { table.report("limit", "every rate limit needs a limit (requests per window)") }
        window = table.duration("window", default: "1m")
        if window < 1_000_000_000 || window % 1_000_000_000 != 0 {
            table.report("window", "must be a whole number of seconds (at least 1s)")
        }
        let keyText = table.string("key", default: "ip")
        switch keyText {
        case "ip": key = .clientIP
        case "route": key = .route
        default:
            if keyText.hasPrefix("header:"), HeaderFieldSetting.isValidName(String(keyText.dropFirst(7))) {
                key = .header(String(keyText.dropFirst(7)).lowercased())
            } else {
                table.report("key", "must be \"ip\", \"route\" or \"header:<Name>\", got \"\(keyText)\"")
                key = .clientIP
            }
        }
        let modeText = table.string("mode", default: "batched")
        mode = Mode(rawValue: modeText) ?? .batched
        if Mode(rawValue: modeText) == nil { table.report("mode", "must be \"batched\" or \"strict\", got \"\(modeText)\"") }
        if pattern == nil || limit == 0 { return nil }
    }
}

extension RateLimitingSettings {
    init(reading table: TableReader) {
        defer { table.rejectUnknownKeys() }
        maxKeys = table.int("max_keys", default: 100_000, range: 64...100_000_000)
        let autoBan = table.table("auto_ban")
        autoBanRejections = autoBan.int("rejections", default: 0, range: 0...1_000_000)
        autoBanPeriod = autoBan.duration("period", default: "1m")
        autoBanDuration = autoBan.duration("ban", default: "15m")
        autoBan.rejectUnknownKeys()
    }
}
