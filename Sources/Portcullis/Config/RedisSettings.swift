/// `[redis]`: the Redis shared by a fleet of gateways (rate-limit counters, the blocklist, the
/// audit stream): one server, or a Redis Cluster.
public struct RedisSettings: Sendable, Equatable {
    /// Where Redis listens.
    public enum Endpoint: Sendable, Equatable, CustomStringConvertible {
        case tcp(host: String, port: Int)
        case unix(path: String)

        public var description: String {
            switch self {
            case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            case .unix(let path): path
            }
        }
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

    /// Every address in `url`: one, or the seed nodes of a cluster; empty when no Redis is
    /// configured (`url = ""`).
    public var endpoints: [Endpoint]
    /// `url` names a Redis Cluster (`redis+cluster://`).
    public var isCluster: Bool
    /// The first address; nil when no Redis is configured.
    public var endpoint: Endpoint? { endpoints.first }
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

    /// What a `url` says.
    struct ParsedURL: Equatable {
        var endpoints: [Endpoint]
        var isCluster = false
        var username: String?
        var password: String?
        var database = 0
    }

    /// Parses `redis://[user:password@]host:port[/db]`, `redis+cluster://[user:password@]host:port,host:port`
    /// (a cluster has database 0 only) or a unix socket path (`/run/redis.sock`, `unix:///run/redis.sock`).
    static func parse(url: String) -> ParsedURL? {
        if url.hasPrefix("/") { return ParsedURL(endpoints: [.unix(path: url)]) }
        if url.hasPrefix("unix://") {
            let path = String(url.dropFirst("unix://".count))
            return path.hasPrefix("/") ? ParsedURL(endpoints: [.unix(path: path)]) : nil
        }
        let isCluster = url.hasPrefix("redis+cluster://")
        guard isCluster || url.hasPrefix("redis://") else { return nil }
        var rest = Substring(url.drop { $0 != "/" }.dropFirst(2))
        var parsed = ParsedURL(endpoints: [], isCluster: isCluster)
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                parsed.username = credentials[..<colon].isEmpty ? nil : String(credentials[..<colon])
                parsed.password = String(credentials[credentials.index(after: colon)...])
            } else {
                parsed.password = String(credentials)
            }
        }
        if let slash = rest.firstIndex(of: "/") {
            let text = rest[rest.index(after: slash)...]
            guard text.isEmpty || Int(text) != nil else { return nil }
            parsed.database = Int(text) ?? 0
            rest = rest[..<slash]
        }
        let addresses = isCluster ? rest.split(separator: ",", omittingEmptySubsequences: false) : [rest]
        for address in addresses {
            guard let endpoint = Self.tcpEndpoint(address) else { return nil }
            parsed.endpoints.append(endpoint)
        }
        guard !(isCluster && parsed.database != 0) else { return nil }
        return parsed
    }

    /// `host:port`, `[v6]:port`, `host` or `[v6]` (port 6379).
    private static func tcpEndpoint(_ address: Substring) -> Endpoint? {
        var hostText = address
        var port = 6379
        if let colon = address.lastIndex(of: ":"), !address.hasSuffix("]") {
            guard let number = Int(address[address.index(after: colon)...]), (1...65535).contains(number) else { return nil }
            port = number
            hostText = address[..<colon]
        }
        let bracketed = hostText.hasPrefix("[") && hostText.hasSuffix("]")
        let host = bracketed ? hostText.dropFirst().dropLast() : hostText
        guard !host.isEmpty, !host.contains(","), bracketed || !host.contains(":") else { return nil }
        return .tcp(host: String(host), port: port)
    }
}

extension RedisSettings {
    init(reading table: TableReader) {
        defer { table.rejectUnknownKeys() }
        let url = table.string("url", default: "")
        endpoints = []
        isCluster = false
        username = nil
        password = nil
        database = 0
        if !url.isEmpty {
            if let parsed = Self.parse(url: url) {
                endpoints = parsed.endpoints
                isCluster = parsed.isCluster
                username = parsed.username
                password = parsed.password
                database = parsed.database
            } else {
                table.report("url", "expected redis://[user:password@]host:port[/db], redis+cluster://[user:password@]host:port,host:port "
                             + "(database 0 only) or a unix socket path")
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
