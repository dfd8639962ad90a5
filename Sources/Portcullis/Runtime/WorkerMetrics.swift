import Synchronization

/// Counters one worker updates on its own thread and the admin thread reads: relaxed atomics,
/// uncontended, one increment per request.
public final class WorkerMetrics: Sendable {
    /// Responses sent, by status class (index 1 = 1xx … 5 = 5xx).
    let responsesByClass = (0..<6).map { _ in Counter() }
    let activeConnections = Counter()
    let acceptedConnections = Counter()
    let tlsHandshakes = Counter()
    let tlsHandshakeFailures = Counter()
    /// Times accepting was paused for lack of file descriptors (episodes).
    let acceptPauses = Counter()
    /// Connections closed at accept because their address had `max_connections_per_ip` open.
    let connectionsOverAddressLimit = Counter()
    /// Connections closed at accept because the address is blocked.
    let blockedConnections = Counter()
    /// Requests refused with 403 (blocked client behind a proxy, or banned since connecting).
    let blockedRequests = Counter()
    /// Upstream failures, by `UpstreamErrorKind`.
    let upstreamErrors = UpstreamErrorKind.allCases.map { _ in Counter() }
    /// Bytes read from and written to clients (TLS payload on HTTPS).
    let bytesIn = Counter()
    let bytesOut = Counter()
    /// Requests refused with 413.
    let requestsTooLarge = Counter()
    /// Bodies that would have been buffered but streamed: the worker's share of
    /// `request_buffer_memory` was spent.
    let requestBufferOverflows = Counter()
    /// Response body bytes before and after gzip.
    let gzipBytesIn = Counter()
    let gzipBytesOut = Counter()
    /// From the request head to the end of the response, and from sending the request upstream
    /// to the upstream's response head.
    let requestDuration = Histogram()
    let upstreamDuration = Histogram()
    /// Round trips of batched rate-limit syncs, and failed syncs and strict checks.
    let redisSyncDuration = Histogram()
    let redisErrors = Counter()

    public init() {}

    @inline(__always)
    func countResponse(status: Int) {
        let statusClass = min(max(status / 100, 1), 5)
        responsesByClass[statusClass].add(1)
    }

    @inline(__always)
    func countUpstreamError(_ kind: UpstreamErrorKind) {
        upstreamErrors[kind.rawValue].add(1)
    }

    /// A consistent-enough copy for rendering.
    func snapshot() -> MetricsSample {
        MetricsSample(
            responsesByClass: responsesByClass.map(\.value),
            activeConnections: activeConnections.value,
            acceptedConnections: acceptedConnections.value,
            tlsHandshakes: tlsHandshakes.value,
            tlsHandshakeFailures: tlsHandshakeFailures.value,
            blockedConnections: blockedConnections.value,
            blockedRequests: blockedRequests.value,
            upstreamErrors: upstreamErrors.map(\.value))
    }
}

/// Why an upstream exchange failed (a metric label).
public enum UpstreamErrorKind: Int, CaseIterable, Sendable {
    case connectFailed
    case connectTimeout
    case responseTimeout
    case reset
    case invalidResponse
    case noLiveServer

    var label: String {
        switch self {
        case .connectFailed: "connect_failed"
        case .connectTimeout: "connect_timeout"
        case .responseTimeout: "response_timeout"
        case .reset: "reset"
        case .invalidResponse: "invalid_response"
        case .noLiveServer: "no_live_server"
        }
    }
}

/// Plain values read from `WorkerMetrics`, summable across workers.
struct MetricsSample {
    var responsesByClass: [Int]
    var activeConnections: Int
    var acceptedConnections: Int
    var tlsHandshakes: Int
    var tlsHandshakeFailures: Int
    var blockedConnections: Int
    var blockedRequests: Int
    var upstreamErrors: [Int]

    static func + (lhs: MetricsSample, rhs: MetricsSample) -> MetricsSample {
        MetricsSample(
            responsesByClass: zip(lhs.responsesByClass, rhs.responsesByClass).map(+),
            activeConnections: lhs.activeConnections + rhs.activeConnections,
            acceptedConnections: lhs.acceptedConnections + rhs.acceptedConnections,
            tlsHandshakes: lhs.tlsHandshakes + rhs.tlsHandshakes,
            tlsHandshakeFailures: lhs.tlsHandshakeFailures + rhs.tlsHandshakeFailures,
            blockedConnections: lhs.blockedConnections + rhs.blockedConnections,
            blockedRequests: lhs.blockedRequests + rhs.blockedRequests,
            upstreamErrors: zip(lhs.upstreamErrors, rhs.upstreamErrors).map(+))
    }
}

/// One relaxed atomic counter.
final class Counter: Sendable {
    private let storage = Atomic<Int>(0)

    @inline(__always) func add(_ amount: Int) { storage.add(amount, ordering: .relaxed) }

    var value: Int { storage.load(ordering: .relaxed) }
}
