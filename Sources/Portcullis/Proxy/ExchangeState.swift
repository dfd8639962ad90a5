/// The plain facts of the exchange in flight (`ProxyExchange.state`): the request as the exchange
/// still needs it once its head is consumed, the state of its upstream side, and the exchange's
/// clocks and byte marks. Started afresh for every request (`ProxyExchange.start`); the response
/// codec is in `ResponseCodec`, the request path's verdict in `RequestDecision`, the references
/// to the upstream in `UpstreamBinding`.
///
/// It holds plain values only. Storing into it then never releases an object whose deinit the
/// compiler cannot see, so every access to it is proved exclusive at compile time and costs no
/// runtime check.
struct ExchangeState {
    /// When the request's head was complete, and when the request was sent upstream whole.
    var startedAt: UInt64 = 0
    var sentAt: UInt64 = 0
    /// Where the request's bytes begin in the stream to the client (for the access log), and
    /// where its final response begins: until `bytesFlushed` passes that, the response can still
    /// be taken back and replaced by a 502.
    var accessBytesMark: Int64 = 0
    var responseStartsAt: Int64 = 0

    /// The client's `X-Request-ID`, or one the gateway made.
    var requestID = RequestID()

    // The request, as the head said (the head itself is consumed when forwarding starts).
    var method = HTTPMethod.get
    /// The client connection may stay open after this exchange (cleared by the response's
    /// framing, by draining, by a body left unread).
    var keepAlive = true
    var isUpgrade = false
    /// The request's `Accept-Encoding` allows gzip, and its route does.
    var acceptsGzip = false
    /// The route's body limit, and whether any of the body went upstream (no retry after that).
    var bodyLimit: Int64 = 0
    var bodyForwarded = false
    /// The body's time and rate limits (`BodyClock`), started when forwarding begins.
    var bodyClock = BodyClock()

    // The upstream side (the pool, the server, the connection and the attempts are in
    // `UpstreamBinding`, which holds references: see the type's note).
    /// The whole request (head and body) has been written to the upstream.
    var requestSent = false
    /// The upstream's response allows reusing its connection.
    var upstreamReusable = false

    init(startedAt: UInt64, method: HTTPMethod) {
        self.startedAt = startedAt
        self.method = method
    }
}
