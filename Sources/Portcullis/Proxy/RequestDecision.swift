/// What the decision phases of `RequestPath` found out about one request and the rest of the
/// exchange needs: the route's header policy and counters, the client, the rate-limit state.
/// A connection keeps one and hands it `inout` to every request's decision, so its buffers keep
/// their capacity and nothing is allocated per request.
struct RequestDecision {
    /// The header policy of the request's route (the default one outside routes).
    var headers: ResponseHeaderPolicy
    /// The route's response counters (nil before a route matched).
    var routeResponses: [Counter]?
    /// The route lets responses be compressed.
    var routeAllowsGzip = false
    /// Who the client is (empty text until the client-address phase ran).
    var client = ClientIdentity()
    /// The most restrictive rate-limit rule's state, and the `X-RateLimit-*` (and
    /// `Retry-After`) lines it renders to, sent on every response of a limited request.
    var rateLimitReport: RateLimiter.Report?
    var rateLimitFields: [UInt8] = []
    /// Strict rate limits the request must wait on (`ProxyExchange+Policy`).
    var strictChecks: [RateLimiter.StrictCheck] = []

    init(headers: ResponseHeaderPolicy) {
        self.headers = headers
    }

    /// Forgets the previous request, keeping the buffers' capacity.
    mutating func reset(headers: ResponseHeaderPolicy) {
        self.headers = headers
        routeResponses = nil
        routeAllowsGzip = false
        client.text.removeAll(keepingCapacity: true)
        client.peerIsTrustedProxy = false
        rateLimitReport = nil
        rateLimitFields.removeAll(keepingCapacity: true)
        strictChecks.removeAll(keepingCapacity: true)
    }
}

/// What the decision phases consult besides the request: the configuration in force and the
/// worker's state at this moment.
struct DecisionContext {
    let snapshot: GatewaySnapshot
    /// The request came over TLS.
    let secure: Bool
    /// The connection's peer, and its address as text.
    let peer: IPAddress
    let peerText: [UInt8]
    let blocklist: IPBlocklist
    /// The loop's monotonic clock, and fleet time in epoch seconds (blocklist expiry).
    let now: UInt64
    let epochSeconds: UInt32
    let redis: RateLimiter.RedisAvailability
    /// Where a path that is not already normal gets its matching form.
    let matchingPath: ByteBuffer
}
