/// The request path, top to bottom. Each numbered phase is a decision with a verdict; the ones
/// already built are marked with the file that holds them.
///
///  1. accept → client address (`Listener`)
///  2. read and parse the head strictly, RFC 9112 (`RequestParser`, via `ClientConnection.readHead`):
///     400 / 414 / 431 / 505 and close
///  3. method policy: CONNECT and TRACE are refused (405)            — `decide`, below
///  4. route: host + path (+ method) → upstream pool, else 404      — `decide`, below
///  5. forward: hop-by-hop fields removed, `X-Forwarded-*`, `X-Real-IP`, `X-Request-ID`, body
///     re-framed (`RequestHeadWriter`, `ClientConnection.startExchange`)
///  6. response: framing and connection handling rewritten, request id returned
///     (`ResponseHeadWriter`, `ClientConnection.relayResponse`)
enum RequestPath {
    /// What to do with a parsed request.
    enum Verdict: Equatable {
        /// Proxy to the upstream pool at this index of the snapshot's upstreams.
        case forward(upstreamIndex: Int)
        /// Answer with this status and close or keep the connection as usual.
        case respond(status: Int)
    }

    /// Runs the decision phases on a parsed head whose bytes start at `source`.
    static func decide(_ head: RequestHead, source: UnsafePointer<UInt8>, snapshot: GatewaySnapshot) -> Verdict {
        // Phase 3: methods a reverse proxy has no business tunnelling or reflecting.
        if head.method == .connect || head.method == .trace { return .respond(status: 405) }

        // Phase 4: route.
        let host = head.authorityRange.map { UnsafeBufferPointer(start: source + $0.lowerBound, count: $0.count) }
            ?? UnsafeBufferPointer(start: source, count: 0)
        let path = UnsafeBufferPointer(start: source + head.pathRange.lowerBound, count: head.pathRange.count)
        let method = UnsafeBufferPointer(start: source + head.methodRange.lowerBound, count: head.methodRange.count)
        guard let upstreamIndex = snapshot.router.match(host: host, path: path, method: method) else {
            return .respond(status: 404)
        }
        return .forward(upstreamIndex: upstreamIndex)
    }
}
