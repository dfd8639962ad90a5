/// `[[rate_limits]]`: one rule. Every rule whose `match` covers a request counts it; any rule
/// over its limit rejects it with 429. A fallback rule counts only the requests no other rule
/// matches (the table's "default").
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
        /// Local, immediate decisions on leases of tokens from Redis.
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
    /// Applies only to requests that no other (non-fallback) rule matches (`fallback = true`).
    public var fallback: Bool
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
    /// Which rate-limit fields responses carry.
    public var headers: HeaderStyle

    /// `[rate_limiting] headers`: the fields that tell a client where it stands.
    public enum HeaderStyle: String, Sendable {
        /// `X-RateLimit-Limit`, `-Remaining`, `-Reset` (epoch seconds).
        case xRateLimit = "x-ratelimit"
        /// `RateLimit-Policy` and `RateLimit` of draft-ietf-httpapi-ratelimit-headers.
        case ietf
        case both
    }
}

extension RateLimitRuleSettings {
    /// The longest rule name (the rate-limit fields are written into a fixed block).
    static let maxNameLength = 64

    init?(reading table: TableReader) {
        defer { table.rejectUnknownKeys() }
        match = table.string("match", default: "")
        name = table.string("name", default: match)
        // The name is sent in `RateLimit-Policy` (a quoted string: printable ASCII only).
        if !name.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) || name.utf8.count > Self.maxNameLength {
            table.report("name", "must be printable ASCII of at most \(Self.maxNameLength) characters (it is sent in RateLimit-Policy), got \"\(name)\"")
        }
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
        fallback = table.bool("fallback", default: false)
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
        let headersText = table.string("headers", default: HeaderStyle.xRateLimit.rawValue)
        headers = HeaderStyle(rawValue: headersText) ?? .xRateLimit
        if HeaderStyle(rawValue: headersText) == nil {
            table.report("headers", "must be \"x-ratelimit\", \"ietf\" or \"both\", got \"\(headersText)\"")
        }
    }
}
