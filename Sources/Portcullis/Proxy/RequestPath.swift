/// The request path, top to bottom. Each numbered phase is a decision with a verdict; the ones
/// already built are marked with the file that holds them.
///
///  1. accept → client address (`Listener`)
///  2. TLS handshake on HTTPS listeners: SNI picks the certificate, ALPN `http/1.1`
///     (`CertificateStore`, `TLSSession`, `ClientConnection.stepHandshaking`)
///  3. read and parse the head strictly, RFC 9112 (`RequestParser`, via `ClientConnection`):
///     400 / 414 / 431 / 505 and close
///  4. plain HTTP: `/.well-known/acme-challenge/<token>` answered here      — `decide`, below
///  5. method policy: CONNECT and TRACE are refused (405)                   — `decide`, below
///  6. route: host + path (+ method) → upstream pool, else 404             — `decide`, below
///  7. plain HTTP when HTTPS exists: 308 to HTTPS unless the route allows HTTP — `decide`, below
///  8. size limits: a Content-Length over the route's `max_body` is 413 before any body byte is
///     read (`decide`); a chunked body is counted as it streams and cut with 413
///     (`ClientConnection.pumpRequestBody`)
///  9. forward: hop-by-hop fields removed, `X-Forwarded-*`, `X-Real-IP`, `X-Request-ID`, body
///     re-framed (`RequestHeadWriter`, `ClientConnection.startExchange`)
/// 10. response: framing and connection handling rewritten, request id returned, HSTS on HTTPS
///     (`ResponseHeadWriter`, `ClientConnection.relayResponse`)
enum RequestPath {
    /// What to do with a parsed request.
    enum Verdict: Equatable {
        /// Proxy to the upstream pool at this index of the snapshot's upstreams, with a body of
        /// at most `maxBody` bytes.
        case forward(upstreamIndex: Int, maxBody: Int64)
        /// Answer with this status and close or keep the connection as usual.
        case respond(status: Int)
        /// Answer an ACME HTTP-01 challenge with this key authorization.
        case serveChallenge(keyAuthorization: String)
        /// Send the client to the same URL over HTTPS (308).
        case redirectToHTTPS
    }

    private static let challengePrefix: [UInt8] = Array("/.well-known/acme-challenge/".utf8)

    /// Runs the decision phases on a parsed head whose bytes start at `source`.
    static func decide(_ head: RequestHead, source: UnsafePointer<UInt8>, snapshot: GatewaySnapshot, secure: Bool) -> Verdict {
        let path = UnsafeBufferPointer(start: source + head.pathRange.lowerBound, count: head.pathRange.count)

        // Phase 4: ACME HTTP-01 challenges, on plain HTTP only (RFC 8555 §8.3).
        if !secure && path.starts(with: challengePrefix) {
            return challenge(token: path.dropFirst(challengePrefix.count), method: head.method, snapshot: snapshot)
        }

        // Phase 5: methods a reverse proxy has no business tunnelling or reflecting.
        if head.method == .connect || head.method == .trace { return .respond(status: 405) }

        // Phase 6: route.
        let host = head.authorityRange.map { UnsafeBufferPointer(start: source + $0.lowerBound, count: $0.count) }
            ?? UnsafeBufferPointer(start: source, count: 0)
        let method = UnsafeBufferPointer(start: source + head.methodRange.lowerBound, count: head.methodRange.count)
        guard let route = snapshot.router.match(host: host, path: path, method: method) else {
            return .respond(status: 404)
        }

        // Phase 7: plain HTTP goes to HTTPS when the gateway has it, unless the route opts out.
        if !secure && snapshot.redirectPort != nil && !route.allowsPlainHTTP { return .redirectToHTTPS }

        // Phase 8: size limits, before any body byte is read.
        if case .length(let length) = head.bodyFraming, length > route.maxBody { return .respond(status: 413) }
        return .forward(upstreamIndex: route.upstreamIndex, maxBody: route.maxBody)
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
