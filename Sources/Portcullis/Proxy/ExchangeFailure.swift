/// Every way an exchange can fail once the request path admitted it, and what follows from
/// each: the status the client gets while nothing of the response has reached it, the upstream
/// error it counts as, whether the server is blamed, and whether another attempt may follow.
/// `ProxyExchange.fail(_:for:)` is the one place that acts on it (Pingora's `fail_to_proxy`).
enum ExchangeFailure: Equatable {
    /// Every server of the pool is marked down.
    case noLiveServer
    /// Connecting failed (refused, unreachable, no descriptor).
    case connectFailed
    /// No connection within `upstream_connect`.
    case connectTimeout
    /// No response head within `upstream_response_head`, or no body bytes within
    /// `upstream_body_idle`.
    case responseTimeout
    /// The upstream closed or reset the connection before its response was complete;
    /// `reusedIdle`: it was an idle pooled connection the upstream had closed as we reused it.
    case reset(reusedIdle: Bool)
    /// What the upstream sent is not a valid response (head, body framing, a 101 nobody asked
    /// for, more 1xx than `maxInterimResponses`).
    case invalidResponse
    /// The client's chunked body is malformed.
    case invalidRequestBody
    /// The client's chunked body passed the route's limit.
    case requestBodyTooLarge(received: Int64, limit: Int64)
    /// The client sends its body too slowly; `reason` names the clock that ran out.
    case clientTooSlow(reason: String, bodyBytes: Int64)

    /// What another attempt would be.
    enum Retry {
        /// The next server of the pool (an idle connection to it, or a new one).
        case nextServer
        /// A new connection, any server.
        case newConnection
    }

    /// For logs and audit details.
    var label: String {
        switch self {
        case .invalidRequestBody: "invalid_request_body"
        case .requestBodyTooLarge: "request_body_too_large"
        case .clientTooSlow(let reason, _): "client_too_slow: \(reason)"
        default: upstreamError?.label ?? "failed"
        }
    }

    /// The answer while no byte of the response has reached the client.
    var status: Int {
        switch self {
        case .noLiveServer, .connectFailed, .reset, .invalidResponse: 502
        case .connectTimeout, .responseTimeout: 504
        case .invalidRequestBody: 400
        case .requestBodyTooLarge: 413
        case .clientTooSlow: 408
        }
    }

    /// The upstream error it is counted as (nil: the client's doing).
    var upstreamError: UpstreamErrorKind? {
        switch self {
        case .noLiveServer: .noLiveServer
        case .connectFailed: .connectFailed
        case .connectTimeout: .connectTimeout
        case .responseTimeout: .responseTimeout
        case .reset: .reset
        case .invalidResponse: .invalidResponse
        case .invalidRequestBody, .requestBodyTooLarge, .clientTooSlow: nil
        }
    }

    /// Whether the server tried counts a failure towards being marked down: not for the
    /// client's failures, and not for an idle connection the server closed (that says nothing
    /// about the server).
    var blamesServer: Bool {
        switch self {
        case .connectFailed, .connectTimeout, .responseTimeout, .invalidResponse, .reset(reusedIdle: false): true
        case .noLiveServer, .reset(reusedIdle: true), .invalidRequestBody, .requestBodyTooLarge, .clientTooSlow: false
        }
    }

    /// The attempt that may follow, given the exchange so far: connecting failed and another
    /// server is left; or a reused idle connection was closed under a request that is
    /// idempotent and has no body (resent once). Never once any body byte went upstream.
    func retry(attempts: Int, servers: Int, method: HTTPMethod, framing: BodyFraming, bodyForwarded: Bool) -> Retry? {
        guard !bodyForwarded else { return nil }
        switch self {
        case .connectFailed, .connectTimeout:
            return attempts < servers ? .nextServer : nil
        case .reset(reusedIdle: true):
            return attempts < 2 && method.isIdempotent && framing == .none ? .newConnection : nil
        default:
            return nil
        }
    }
}
