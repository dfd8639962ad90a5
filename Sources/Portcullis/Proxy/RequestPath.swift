/// The request path, top to bottom. Each numbered phase is a decision with a verdict; the ones
/// decided here are in `decide`, a function of the request and a `DecisionContext` (no socket,
/// no connection: unit-tested as such), the others name the file that holds them.
///
///  1. accept → client address → blocklist: a blocked address is closed before the TLS
///     handshake, so an attacker costs us nothing (`Listener`)
///  2. TLS handshake on HTTPS listeners: SNI picks the certificate, ALPN `http/1.1`
///     (`CertificateStore`, `TLSSession`, `ClientConnection.stepHandshaking`)
///  3. read and parse the head strictly, RFC 9112 (`RequestParser`, via `ClientConnection`):
///     400 / 414 / 431 / 505 and close
///  4. plain HTTP: `/.well-known/acme-challenge/<token>` answered here      — `decide`, below
///  5. method policy: methods outside `[requests] allowed_methods` are 501; CONNECT and TRACE
///     are refused (405)                                                   — `decide`, below
///  6. path: normalized once (`PathNormalizer`), 400 for an encoded slash or a bad escape;
///     routes and rules match the normalized path, the upstream gets it too — `decide`, below
///  7. route: host + path (+ method) → upstream pool, else 404             — `decide`, below
///  8. plain HTTP when HTTPS exists: 308 to HTTPS unless the route allows HTTP — `decide`, below
///  9. client IP: the peer, or behind a trusted proxy the right-most untrusted
///     `X-Forwarded-For` entry; blocklist again on it (403 and close; this also ends keep-alive
///     connections of a client banned since it connected)                  — `decide`, below
/// 10. size limits: a Content-Length over the route's `max_body` is 413 before any body byte is
///     read (`decide`); a chunked body is counted as it streams and cut with 413
///     (`ProxyExchange.pumpRequestBody`)
/// 11. rate limits: every matching rule counts the request; any over its limit → 429 with
///     `Retry-After` (`decide`, `RateLimiter`); `X-RateLimit-*` on every response of a limited
///     request
/// 12. forward: hop-by-hop fields removed, `X-Forwarded-*`, `X-Real-IP`, `X-Request-ID`, body
///     re-framed (`RequestHeadWriter`, `ProxyExchange.beginForwarding`)
/// 13. response: framing and connection handling rewritten, request id returned, the route's
///     security headers, `Server`/`X-Powered-By` dropped (`ResponseHeadWriter`,
///     `ResponseHeaderPolicy`)
enum RequestPath {
    /// What to do with a parsed request.
    enum Verdict: Equatable {
        /// Proxy to the upstream pool at this index of the snapshot's upstreams, the body held
        /// to `body`.
        case forward(upstreamIndex: Int, body: BodyLimits)
        /// Answer with this status and close or keep the connection as usual.
        case respond(status: Int)
        /// The path cannot be normalized (an encoded slash, a bad escape): 400.
        case badPath(reason: String)
        /// The client's address is blocked: 403, then close.
        case blocked
        /// The declared body is over the route's limit: 413.
        case tooLarge(length: Int64, limit: Int64)
        /// Over a rate limit: 429 naming the rule at this index.
        case rateLimited(rule: Int)
        /// Rate limits must be decided in Redis first (strict checks and leases in
        /// `RequestDecision.strictChecks`); then forward as `.forward` would.
        case checkStrictLimits(upstreamIndex: Int, body: BodyLimits)
        /// Answer an ACME HTTP-01 challenge with this key authorization.
        case serveChallenge(keyAuthorization: String)
        /// Send the client to the same URL over HTTPS (308).
        case redirectToHTTPS

        /// True when the request waits on Redis (otherwise the decision's Redis work, lease
        /// refills, goes out without anyone waiting).
        var waitsOnRedis: Bool {
            if case .checkStrictLimits = self { return true }
            return false
        }
    }

    private static let challengePrefix: [UInt8] = Array("/.well-known/acme-challenge/".utf8)

    /// Runs the decision phases on a parsed head (its bytes at `source`). Touches nothing but
    /// `decision` (what the exchange needs to know later) and `scratch` (the rate limiter's);
    /// `head` is `inout` only so that it is read in place in the codec's slot (`OwnedSlot`).
    static func decide(_ head: inout RequestHead, source: UnsafePointer<UInt8>, context: DecisionContext, scratch: inout [UInt8],
                       into decision: inout RequestDecision) -> Verdict {
        let snapshot = context.snapshot
        let rawPath = UnsafeBufferPointer(start: source + head.pathRange.lowerBound, count: head.pathRange.count)
        decision.reset(headers: snapshot.defaultHeaders)

        // Phase 4: ACME HTTP-01 challenges, on plain HTTP only (RFC 8555 §8.3).
        if !context.secure && rawPath.starts(with: challengePrefix) {
            return challenge(token: rawPath.dropFirst(challengePrefix.count), method: head.method, snapshot: snapshot)
        }

        // Phase 5: methods. Case matters (`post` is not `POST`); a reverse proxy has no business
        // tunnelling (CONNECT) or reflecting (TRACE).
        let method = UnsafeBufferPointer(start: source + head.methodRange.lowerBound, count: head.methodRange.count)
        guard snapshot.methods.allows(head.method, name: method) else { return .respond(status: 501) }
        if head.method == .connect || head.method == .trace { return .respond(status: 405) }

        // Phase 6: the path every later phase (and the upstream) sees.
        var path = rawPath
        let normalizer = snapshot.config.requests.paths
        if !normalizer.isNormal(rawPath) {
            let matching = context.matchingPath
            matching.clear()
            if let failure = normalizer.normalize(rawPath, forwarded: nil, matching: matching) { return .badPath(reason: failure.reason) }
            path = matching.readable
        }

        // Phase 7: route.
        let host = head.authorityRange.map { UnsafeBufferPointer(start: source + $0.lowerBound, count: $0.count) }
            ?? UnsafeBufferPointer(start: source, count: 0)
        guard let (routeIndex, route) = snapshot.router.match(host: host, path: path, method: method) else {
            return .respond(status: 404)
        }
        decision.headers = route.headers
        decision.routeResponses = route.responses
        decision.routeAllowsGzip = route.gzip

        // Phase 8: plain HTTP goes to HTTPS when the gateway has it, unless the route opts out.
        if !context.secure && snapshot.redirectPort != nil && !route.allowsPlainHTTP { return .redirectToHTTPS }

        // Phase 9: the client's address, and the blocklist on it when it came from a proxy.
        ClientAddress.resolve(peer: context.peer, peerText: context.peerText, head: head, source: source, trusted: snapshot.trustedProxies,
                              into: &decision.client)
        if context.blocklist.blocks(decision.client.address, now: context.epochSeconds) { return .blocked }

        // Phase 10: size limits, before any body byte is read.
        if case .length(let length) = head.bodyFraming, length > route.body.max {
            return .tooLarge(length: length, limit: route.body.max)
        }

        // Phase 11: rate limits.
        let limiter = snapshot.rateLimiter
        let outcome = decision.client.text.withUnsafeBufferPointer { clientIP in
            limiter.decide(RateLimiter.Subject(method: method, path: path, clientIP: clientIP, routeIndex: routeIndex, head: head, source: source),
                           now: context.now, redis: context.redis, scratch: &scratch, report: &decision.rateLimitReport,
                           strictChecks: &decision.strictChecks)
        }
        limiter.render(decision.rateLimitReport, into: &decision.rateLimitFields)
        switch outcome {
        case .admitted:
            return .forward(upstreamIndex: route.upstreamIndex, body: route.body)
        case .rejected(let rule):
            return .rateLimited(rule: rule)
        case .unavailable:
            return .respond(status: 503)
        case .checkStrict:
            return .checkStrictLimits(upstreamIndex: route.upstreamIndex, body: route.body)
        }
    }

    private static func challenge(token: Slice<UnsafeBufferPointer<UInt8>>, method: HTTPMethod, snapshot: GatewaySnapshot) -> Verdict {
        guard method == .get || method == .head, ChallengeStore.isValidToken(token) else { return .respond(status: 404) }
        let text = String(decoding: token, as: UTF8.self)
        guard let keyAuthorization = snapshot.challenges.keyAuthorization(for: text, webroot: snapshot.config.acme.webroot) else {
            return .respond(status: 404)
        }
        return .serveChallenge(keyAuthorization: keyAuthorization)
    }
}
