/// State that outlives configuration snapshots and is shared by every worker: pushed ACME
/// tokens, the rate-limit counters and the fleet clock. Created once per process.
public final class GatewayShared: Sendable {
    let challenges = ChallengeStore()
    let rateLimitCounters: RateLimitTable
    let clock = FleetClock()
    /// Open client connections per address (`max_connections_per_ip`).
    let connectionsPerAddress = ConnectionsPerAddress()
    let redisHealth = RedisHealth()
    /// Responses by route (label) and status class (index 1–5).
    let routeResponses = LabeledCounters(width: 6)
    /// Rate-limit decisions by rule: [admitted, rejected].
    let rateLimitDecisions = LabeledCounters(width: 2)
    /// Workers whose listeners are in their epoll set: the gateway says it is ready (to
    /// systemd, or to the process it replaces) only once every worker accepts.
    let listeningWorkers = Locked(0)

    init(maxRateLimitKeys: Int) {
        rateLimitCounters = RateLimitTable(maxKeys: maxRateLimitKeys)
    }
}

/// Everything a worker needs to serve requests under one configuration, built off the hot path
/// by the control thread and swapped whole. A request keeps the snapshot it started with, so a
/// reload never changes a request in flight.
public final class GatewaySnapshot: Sendable {
    /// Increases with every reload (1 at start).
    public let generation: Int
    public let config: GatewayConfig
    let router: Router
    /// The certificates for HTTPS listeners (nil without any).
    public let certificates: CertificateStore?
    /// The header policy of answers outside any route (404 and parse errors).
    let defaultHeaders: ResponseHeaderPolicy
    let rateLimiter: RateLimiter
    /// `[gzip] types` as lower-case bytes, compared with response Content-Types.
    let gzipMediaTypes: [[UInt8]]
    /// `max_connections` (resolved when 0) and each worker's share of it.
    let maxConnections: Int
    let connectionShare: Int
    /// Each worker's share of `[limits] request_buffer_memory`.
    let requestBufferShare: Int64
    /// Methods served (others get 501).
    let methods: MethodPolicy
    /// Peers whose `X-Forwarded-For` names the client.
    let trustedProxies: [CIDR]
    /// ACME HTTP-01 tokens (shared by every snapshot: tokens survive reloads).
    let challenges: ChallengeStore
    /// The port text for redirects to HTTPS ("" for 443); nil without an HTTPS listener.
    let redirectPort: [UInt8]?

    init(config: GatewayConfig, generation: Int, certificates: CertificateStore?, shared: GatewayShared) {
        self.config = config
        self.generation = generation
        self.certificates = certificates
        challenges = shared.challenges
        let httpsPort = config.tls.redirectPort != 0 ? config.tls.redirectPort
            : config.listeners.first { $0.scheme == .https }?.address.port
        redirectPort = httpsPort.map { $0 == 443 ? [] : Array(":\($0)".utf8) }
        defaultHeaders = ResponseHeaderPolicy(settings: config.securityHeaders, route: .standard)
        router = Router(settings: config.routes, upstreamNames: config.upstreams.map(\.name), defaultMaxBody: config.maxBody,
                        headerSettings: config.securityHeaders, caseInsensitivePaths: config.requests.paths.caseInsensitive,
                        responseCounters: shared.routeResponses)
        methods = MethodPolicy(allowed: config.requests.allowedMethods)
        requestBufferShare = config.requestBufferMemory / Int64(max(config.server.workers, 1))
        maxConnections = config.effectiveMaxConnections
        connectionShare = max(maxConnections / max(config.server.workers, 1), 1)
        rateLimiter = RateLimiter(settings: config.rateLimits, caseInsensitivePaths: config.requests.paths.caseInsensitive,
                                  table: shared.rateLimitCounters, clock: shared.clock,
                                  sharedKeyPrefix: config.redis.endpoint == nil ? nil : config.redis.keyPrefix,
                                  decisionCounters: shared.rateLimitDecisions, headerStyle: config.rateLimiting.headers)
        trustedProxies = config.clientIP.trustedProxies
        gzipMediaTypes = config.gzip.types.map { Array($0.utf8) }
    }
}
