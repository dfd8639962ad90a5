import Glibc

/// The whole configuration, validated. Immutable once built; a reload builds a new one.
public struct GatewayConfig: Sendable {
    public var server: ServerSettings
    public var listeners: [ListenerSettings]
    public var timeouts: TimeoutSettings
    public var limits: HeadLimits
    /// Largest request body, unless a route sets its own (`[limits] max_body`).
    public var maxBody: Int64
    /// Memory all buffered request bodies may take together (`[limits] request_buffer_memory`),
    /// shared out equally between the workers; past it bodies stream.
    public var requestBufferMemory: Int64
    /// Client connections open at once, process-wide (0: derived from the descriptor limit);
    /// each worker takes an equal share and stops accepting at it.
    public var maxConnections: Int
    /// Client connections open at once from one address (0: no limit); `allow` entries of the
    /// blocklist are exempt.
    public var maxConnectionsPerIP: Int
    public var requests: RequestSettings
    public var admin: AdminSettings
    public var upstreams: [UpstreamSettings]
    public var routes: [RouteSettings]
    public var tls: TLSSettings
    public var certificates: [CertificateSettings]
    public var acme: ACMESettings
    public var securityHeaders: SecurityHeaderSettings
    public var blocklist: BlocklistSettings
    public var clientIP: ClientIPSettings
    public var rateLimiting: RateLimitingSettings
    public var rateLimits: [RateLimitRuleSettings]
    public var redis: RedisSettings
    public var gzip: GzipSettings
    public var audit: AuditSettings
    public var accessLog: AccessLogSettings
    /// What `portcullis check` warns about: valid, but probably not what was meant.
    public var warnings: [ConfigProblem] = []

    /// True when some listener terminates TLS.
    public var hasTLSListener: Bool { listeners.contains { $0.scheme == .https } }
}

/// `[server]`: process-wide settings.
public struct ServerSettings: Sendable, Equatable {
    /// Worker threads (resolved from `"auto"` to the number of cores).
    public var workers: Int
    /// Pin worker N to CPU N (benchmarks, dedicated hosts).
    public var pinWorkers: Bool
    /// How long a worker keeps polling after events before it sleeps (ns; 0 = off).
    public var busyPoll: UInt64
    /// `trace`, `debug`, `info`, `notice`, `warning`, `error` or `critical`.
    public var logLevel: String
}

/// `[[listeners]]`: one public address.
public struct ListenerSettings: Sendable, Equatable {
    public enum Scheme: String, Sendable { case http, https }
    public var address: SocketAddress
    public var scheme: Scheme
}

/// `[timeouts]`, all in nanoseconds (the body rate in bytes a second).
public struct TimeoutSettings: Sendable, Equatable {
    public var clientHeader: UInt64
    public var clientBodyIdle: UInt64
    /// Slowest request body accepted, in bytes a second averaged over each period of
    /// `clientBodyRatePeriod` (the first one is the grace period; 0 = off): a body trickled a
    /// byte at a time would otherwise hold its connection, and an upstream's, as long as the
    /// client likes.
    public var clientBodyMinRate: Int64
    public var clientBodyRatePeriod: UInt64
    /// Longest a request body may take in all, however steadily it arrives.
    public var clientBodyTotal: UInt64
    /// Longest a client may leave response bytes unread before it is closed.
    public var clientSendIdle: UInt64
    public var keepAliveIdle: UInt64
    public var upstreamConnect: UInt64
    public var upstreamResponseHead: UInt64
    public var upstreamBodyIdle: UInt64
    public var tunnelIdle: UInt64
    public var drain: UInt64
    /// How long a new binary may take to become ready in a binary upgrade.
    public var upgrade: UInt64
}

/// `[admin]`: the separate admin listener.
public struct AdminSettings: Sendable, Equatable {
    public var address: SocketAddress
    /// Name of the environment variable holding the bearer token.
    public var tokenEnvironmentVariable: String
    /// Whether `GET /metrics` needs the token too.
    public var metricsRequireAuth: Bool
    /// Failed authentications per source and minute before it is locked out (0: never).
    public var authFailuresPerMinute: Int
    /// How long a locked-out source gets 429.
    public var authLockout: UInt64
}

/// `[[upstreams]]`: a named pool of servers.
public struct UpstreamSettings: Sendable, Equatable {
    public var name: String
    public var servers: [SocketAddress]
    /// Idle keep-alive connections kept per worker and server.
    public var keepAlive: Int
    /// How long an idle pooled connection is kept.
    public var idleTimeout: UInt64
    /// Failures within `failTimeout` after which a server is skipped for `failTimeout`.
    public var maxFails: Int
    public var failTimeout: UInt64
}

/// `[[routes]]`: which requests go to which upstream; the first match wins.
public struct RouteSettings: Sendable, Equatable {
    /// `*` (any), `example.com` (exact) or `*.example.com` (any subdomain).
    public var host: String
    /// Matches paths equal to it or continuing it.
    public var pathPrefix: String
    /// Empty means any method.
    public var methods: [String]
    public var upstream: String
    /// Proxy this route on plain-HTTP listeners too, instead of redirecting to HTTPS.
    public var allowHTTP: Bool
    /// This route's body limit; nil takes `[limits] max_body`.
    public var maxBody: Int64?
    /// How much of a request body is read whole before the upstream exchange starts; nil takes
    /// the route's body limit when that is at most 1 MiB, else 0 (bodies stream).
    public var requestBuffer: Int64?
    /// The route's response header profile and its changes to it.
    public var headers: RouteHeaderSettings
    /// Compress this route's responses (when `[gzip]` is on). Off for routes whose responses
    /// reflect request input next to secrets (BREACH).
    public var gzip: Bool
}

/// `[acme]`: HTTP-01 challenges answered on plain-HTTP listeners.
public struct ACMESettings: Sendable, Equatable {
    /// Directory certbot's `--webroot -w` writes to ("" for none).
    public var webroot: String
    /// How long a token pushed through the admin API is served.
    public var tokenTTL: UInt64

    init(reading table: TableReader) {
        defer { table.rejectUnknownKeys() }
        webroot = table.string("webroot", default: "")
        tokenTTL = table.duration("token_ttl", default: "1h")
    }
}

extension GatewayConfig {
    /// Builds and validates a configuration from parsed TOML, collecting every problem.
    init(reading root: TableReader) {
        let serverTable = root.table("server")
        server = ServerSettings(reading: serverTable)
        serverTable.rejectUnknownKeys()

        let listenerTables = root.tables("listeners")
        listeners = listenerTables.compactMap { table in
            defer { table.rejectUnknownKeys() }
            let address = table.address("address", default: nil)
            let schemeText = table.string("protocol", default: "http")
            guard let scheme = ListenerSettings.Scheme(rawValue: schemeText) else {
                table.report("protocol", "must be \"http\" or \"https\", got \"\(schemeText)\"")
                return nil
            }
            return address.map { ListenerSettings(address: $0, scheme: scheme) }
        }
        if listenerTables.isEmpty { root.report("listeners", "at least one [[listeners]] entry is required") }

        let timeoutTable = root.table("timeouts")
        timeouts = TimeoutSettings(
            clientHeader: timeoutTable.duration("client_header", default: "10s"),
            clientBodyIdle: timeoutTable.duration("client_body_idle", default: "30s"),
            clientBodyMinRate: timeoutTable.size("client_body_min_rate", default: 1024) ?? 1024,
            clientBodyRatePeriod: timeoutTable.duration("client_body_rate_period", default: "10s"),
            clientBodyTotal: timeoutTable.duration("client_body_total", default: "10m"),
            clientSendIdle: timeoutTable.duration("client_send_idle", default: "60s"),
            keepAliveIdle: timeoutTable.duration("keepalive_idle", default: "75s"),
            upstreamConnect: timeoutTable.duration("upstream_connect", default: "5s"),
            upstreamResponseHead: timeoutTable.duration("upstream_response_head", default: "60s"),
            upstreamBodyIdle: timeoutTable.duration("upstream_body_idle", default: "60s"),
            tunnelIdle: timeoutTable.duration("tunnel_idle", default: "1h"),
            drain: timeoutTable.duration("drain", default: "30s"),
            upgrade: timeoutTable.duration("upgrade", default: "30s"))
        timeoutTable.rejectUnknownKeys()

        let limitTable = root.table("limits")
        limits = HeadLimits(
            maxRequestLine: limitTable.int("max_request_line", default: 8192, range: 256...1_048_576),
            maxHeaderBytes: limitTable.int("max_header_bytes", default: 32768, range: 1024...1_048_576),
            maxHeaderCount: limitTable.int("max_header_count", default: 100, range: 8...10_000))
        maxBody = limitTable.size("max_body", default: Self.defaultMaxBody) ?? Self.defaultMaxBody
        requestBufferMemory = limitTable.size("request_buffer_memory", default: 64 << 20) ?? (64 << 20)
        maxConnections = limitTable.int("max_connections", default: 0, range: 0...10_000_000)
        maxConnectionsPerIP = limitTable.int("max_connections_per_ip", default: 256, range: 0...10_000_000)
        limitTable.rejectUnknownKeys()

        requests = RequestSettings(reading: root.table("requests"))

        let adminTable = root.table("admin")
        admin = AdminSettings(
            address: adminTable.address("address", default: "127.0.0.1:9901") ?? Self.fallbackAdminAddress,
            tokenEnvironmentVariable: adminTable.string("token_env", default: "PORTCULLIS_ADMIN_TOKEN"),
            metricsRequireAuth: adminTable.bool("metrics_require_auth", default: false),
            authFailuresPerMinute: adminTable.int("auth_failures_per_minute", default: 10, range: 0...1_000_000),
            authLockout: adminTable.duration("auth_lockout", default: "5m"))
        adminTable.rejectUnknownKeys()

        tls = TLSSettings(reading: root.table("tls"))
        acme = ACMESettings(reading: root.table("acme"))
        securityHeaders = SecurityHeaderSettings(reading: root.table("security_headers"))
        blocklist = BlocklistSettings(reading: root.table("blocklist"))
        clientIP = ClientIPSettings(reading: root.table("client_ip"))
        rateLimiting = RateLimitingSettings(reading: root.table("rate_limiting"))
        rateLimits = root.tables("rate_limits").compactMap { RateLimitRuleSettings(reading: $0) }
        redis = RedisSettings(reading: root.table("redis"))
        gzip = GzipSettings(reading: root.table("gzip"))
        audit = AuditSettings(reading: root.table("audit"))
        accessLog = AccessLogSettings(reading: root.table("access_log"))
        certificates = root.tables("certificates").map { CertificateSettings(reading: $0) }
        upstreams = root.tables("upstreams").map { UpstreamSettings(reading: $0) }
        routes = root.tables("routes").map { RouteSettings(reading: $0) }
        root.rejectUnknownKeys()
        validateReferences(root)
    }

    /// 1 MiB, the default body limit.
    static let defaultMaxBody: Int64 = 1 << 20

    private static let fallbackAdminAddress = try! SocketAddress(parsing: "127.0.0.1:9901")

    private func validateReferences(_ root: TableReader) {
        var names: Set<String> = []
        for (index, upstream) in upstreams.enumerated() where !names.insert(upstream.name).inserted {
            root.report("upstreams[\(index)].name", "duplicate upstream name \"\(upstream.name)\"")
        }
        if routes.isEmpty { root.report("routes", "at least one [[routes]] entry is required") }
        for (index, route) in routes.enumerated() where !names.contains(route.upstream) {
            root.report("routes[\(index)].upstream", "no upstream named \"\(route.upstream)\"")
        }
        for (index, route) in routes.enumerated() where securityHeaders.profiles[route.headers.profile] == nil {
            root.report("routes[\(index)].security_headers", "no profile named \"\(route.headers.profile)\" (define [security_headers.profiles.\(route.headers.profile)])")
        }
        var ruleNames: Set<String> = []
        for (index, rule) in rateLimits.enumerated() where !ruleNames.insert(rule.name).inserted {
            root.report("rate_limits[\(index)].name", "two rules are named \"\(rule.name)\" (set name = \"…\" to tell them apart)")
        }
        for warning in RateLimitRuleReview.warnings(rateLimits, caseInsensitivePaths: requests.paths.caseInsensitive) { root.warn(warning.key, warning.message) }
        if !audit.redisStream.isEmpty && redis.endpoint == nil {
            root.report("audit.redis_stream", "needs [redis] url")
        }
        // Port 0 (any free port, chosen at start) can appear on several listeners.
        var addresses: Set<String> = []
        for (index, listener) in listeners.enumerated() where listener.address.port != 0 && !addresses.insert(listener.address.text).inserted {
            root.report("listeners[\(index)].address", "address \(listener.address) is listed twice")
        }
        if certificates.filter(\.isDefault).count > 1 {
            root.report("certificates", "at most one certificate can be the default")
        }
        if hasTLSListener && certificates.isEmpty && !tls.selfSignedDev {
            root.report("certificates", "an https listener needs [[certificates]] (or tls.self_signed_dev = true for development)")
        }
        if addresses.contains(admin.address.text) {
            root.report("admin.address", "the admin listener must not share an address with a public listener")
        }
    }
}

extension ServerSettings {
    init(reading table: TableReader) {
        if table.holdsString("workers"), let text = table.optionalString("workers") {
            if text == "auto" {
                workers = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
            } else if let count = Int(text), (1...256).contains(count) {
                workers = count
            } else {
                table.report("workers", "expected \"auto\" or a number from 1 to 256, got \"\(text)\"")
                workers = 1
            }
        } else {
            workers = table.int("workers", default: max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))), range: 1...256)
        }
        pinWorkers = table.bool("pin_workers", default: false)
        busyPoll = table.duration("busy_poll", default: "0us", allowZero: true)
        if busyPoll > 1_000_000 { table.report("busy_poll", "at most 1ms: longer polling burns a core for nothing") }
        logLevel = table.string("log_level", default: "info")
        let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        if !levels.contains(logLevel) {
            table.report("log_level", "must be one of \(levels.joined(separator: ", ")), got \"\(logLevel)\"")
        }
    }
}

extension UpstreamSettings {
    init(reading table: TableReader) {
        defer { table.rejectUnknownKeys() }
        name = table.string("name", default: "")
        if name.isEmpty { table.report("name", "every upstream needs a name") }
        let serverTexts = table.strings("servers", default: [])
        if serverTexts.isEmpty { table.report("servers", "at least one server address is required") }
        servers = serverTexts.enumerated().compactMap { index, text in table.parseAddress(text, key: "servers[\(index)]") }
        keepAlive = table.int("keepalive", default: 64, range: 0...100_000)
        idleTimeout = table.duration("idle_timeout", default: "60s")
        maxFails = table.int("max_fails", default: 3, range: 0...1000)
        failTimeout = table.duration("fail_timeout", default: "10s")
    }
}

extension RouteSettings {
    init(reading table: TableReader) {
        defer { table.rejectUnknownKeys() }
        host = table.string("host", default: "*").lowercased()
        if !Self.isValidHostPattern(host) {
            table.report("host", "expected \"*\", a host name or \"*.domain\", got \"\(host)\"")
        }
        pathPrefix = table.string("path_prefix", default: "/")
        if !pathPrefix.hasPrefix("/") { table.report("path_prefix", "must start with \"/\", got \"\(pathPrefix)\"") }
        methods = table.strings("methods", default: [])
        for method in methods where method.isEmpty || !method.utf8.allSatisfy({ $0 >= 65 && $0 <= 90 }) {
            table.report("methods", "\"\(method)\" is not an upper-case method name")
        }
        upstream = table.string("upstream", default: "")
        if upstream.isEmpty { table.report("upstream", "every route needs an upstream") }
        allowHTTP = table.bool("allow_http", default: false)
        maxBody = table.size("max_body", default: GatewayConfig.defaultMaxBody)
        requestBuffer = table.size("request_buffer", default: 0)
        headers = RouteHeaderSettings(reading: table)
        gzip = table.bool("gzip", default: true)
    }

    /// The route's `route` label in metrics: host (unless `*`), path prefix, methods.
    var metricLabel: String {
        (host == "*" ? "" : host) + pathPrefix + (methods.isEmpty ? "" : " " + methods.joined(separator: ","))
    }

    private static func isValidHostPattern(_ pattern: String) -> Bool {
        if pattern == "*" { return true }
        let name = pattern.hasPrefix("*.") ? String(pattern.dropFirst(2)) : pattern
        return !name.isEmpty && name.utf8.allSatisfy { byte in
            (byte >= 97 && byte <= 122) || (byte >= 48 && byte <= 57) || byte == 45 || byte == 46 || byte == 58 || byte == 91 || byte == 93
        }
    }
}

extension TableReader {
    /// A `host:port` address.
    func address(_ key: String, default fallback: String?) -> SocketAddress? {
        guard let text = optionalString(key) ?? fallback else {
            report(key, "an address (host:port) is required")
            return nil
        }
        return parseAddress(text, key: key)
    }

    func parseAddress(_ text: String, key: String) -> SocketAddress? {
        do {
            return try SocketAddress(parsing: text)
        } catch {
            report(key, error.description)
            return nil
        }
    }
}
