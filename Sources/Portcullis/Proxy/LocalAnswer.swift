/// An answer the gateway gives a request itself instead of relaying the upstream's, as a value:
/// what the exchange decided, not yet its bytes. The exchange makes one for every refusal of
/// the request path, failure, ACME challenge and redirect; the client writes it in its codec
/// (`ExchangeClient.writeAnswer`: `GatewayResponse.write` for HTTP/1.x), so another codec writes the same answers its own way.
struct LocalAnswer {
    enum Body {
        /// The JSON error body that names the status's error code and the request id, followed
        /// by more JSON members (`,"rule":"…"`).
        case error(detail: [UInt8])
        /// `text/plain`.
        case text([UInt8])
        /// No body; the client is sent to `location`.
        case redirect(location: [UInt8])
    }

    let status: Int
    let body: Body

    /// An error or refusal with the JSON body.
    static func error(_ status: Int, detail: [UInt8] = []) -> LocalAnswer {
        LocalAnswer(status: status, body: .error(detail: detail))
    }

    /// `200`: an ACME HTTP-01 key authorization.
    static func challenge(keyAuthorization: String) -> LocalAnswer {
        LocalAnswer(status: 200, body: .text(Array(keyAuthorization.utf8)))
    }

    /// `308` to the same URL over HTTPS: `https://host[:port]/path?query`, the host from the
    /// request's authority (else `fallbackHost`) without its port, IPv6 brackets kept.
    static func redirectToHTTPS(_ head: RequestHead, from source: UnsafePointer<UInt8>, port: [UInt8], fallbackHost: [UInt8]) -> LocalAnswer {
        var location = Array("https://".utf8)
        if let authority = head.authorityRange, !authority.isEmpty {
            location += Router.stripPort(UnsafeBufferPointer(start: source + authority.lowerBound, count: authority.count))
        } else {
            fallbackHost.withUnsafeBufferPointer { location += Router.stripPort($0) }
        }
        location += port
        location += UnsafeBufferPointer(start: source + head.pathAndQueryRange.lowerBound, count: head.pathAndQueryRange.count)
        return LocalAnswer(status: 308, body: .redirect(location: location))
    }
}
