/// `[redis]`: the Redis shared by a fleet of gateways (rate-limit counters, the blocklist).
public struct RedisSettings: Sendable, Equatable {
    /// Where Redis listens.
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case unix(path: String)
    }

    /// What rate limiting does while Redis cannot be reached.
    public enum FailurePolicy: String, Sendable {
        /// Decide with this instance's own counts (the default).
        case local
        /// Refuse requests a rule covers (503).
        case deny
        /// Let requests through unlimited.
        case allow
    }

    /// Nil when no Redis is configured (`url = ""`).
    public var endpoint: Endpoint?
    public var username: String?
    public var password: String?
    public var database: Int
    /// Prefix of every key and channel name.
    public var keyPrefix: String
    /// A command not answered within this time counts as a failure (ns).
    public var commandTimeout: UInt64
    public var onFailure: FailurePolicy
    /// How often batched increments are sent (ns).
    public var syncInterval: UInt64

    /// Parses `redis://[user:password@]host:port[/db]` or a unix socket path (`/run/redis.sock`,
    /// `unix:///run/redis.sock`).
    static func parse(url: String) -> (Endpoint, String?, String?, Int)? {
        if url.hasPrefix("/") { return (.unix(path: url), nil, nil, 0) }
        if url.hasPrefix("unix://") {
            let path = String(url.dropFirst("unix://".count))
            return path.hasPrefix("/") ? (.unix(path: path), nil, nil, 0) : nil
        }
        guard url.hasPrefix("redis://") else { return nil }
        var rest = Substring(url.dropFirst("redis://".count))
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                username = credentials[..<colon].isEmpty ? nil : String(credentials[..<colon])
                password = String(credentials[credentials.index(after: colon)...])
            } else {
                password = String(credentials)
            }
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let text = rest[rest.index(after: slash)...]
            guard text.isEmpty || Int(text) != nil else { return nil }
            database = Int(text) ?? 0
            rest = rest[..<slash]
        }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else {
            return rest.isEmpty ? nil : (.tcp(host: String(rest), port: 6379), username, password, database)
        }
        let host = String(rest[..<colon]).trimmingBrackets
        guard !host.isEmpty else { return nil }
        return (.tcp(host: host, port: port), username, password, database)
    }
}

private extension String {
    var trimmingBrackets: String { hasPrefix("[") && hasSuffix("]") ? String(dropFirst().dropLast()) : self }
}

extension RedisSettings {
    init(reading table: TableReader) {
        defer { table.rejectUnknownKeys() }
        let url = table.string("url", default: "")
        endpoint = nil
        username = nil
        password = nil
        database = 0
        if !url.isEmpty {
            if let (endpoint, username, password, database) = Self.parse(url: url) {
                self.endpoint = endpoint
                self.username = username
                self.password = password
                self.database = database
            } else {
                table.report("url", "expected redis://[user:password@]host:port[/db] or a unix socket path")
            }
        }
        keyPrefix = table.string("key_prefix", default: "portcullis:")
        commandTimeout = table.duration("command_timeout", default: "50ms")
        let policyText = table.string("on_redis_failure", default: "local")
        onFailure = FailurePolicy(rawValue: policyText) ?? .local
        if FailurePolicy(rawValue: policyText) == nil {
            table.report("on_redis_failure", "must be \"local\", \"deny\" or \"allow\", got \"\(policyText)\"")
        }
        syncInterval = UInt64(table.int("sync_interval_ms", default: 100, range: 10...60_000)) * 1_000_000
    }
}
