import Foundation

/// A request to the admin listener, read whole (heads and small JSON bodies only).
struct AdminRequest {
    var method: String
    var path: String
    /// Query parameters (percent-decoded).
    var query: [String: String]
    /// The caller's IP address.
    var peer: String?
    /// Field names lower-cased.
    var headers: [String: String]
    var body: [UInt8]
}

/// A response from the admin listener.
struct AdminResponse {
    var status: Int
    var contentType: String
    var body: String
    var extraHeaders: [(String, String)] = []

    /// A JSON response from a dictionary.
    static func json(_ status: Int, _ object: [String: any Sendable]) -> AdminResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return AdminResponse(status: status, contentType: "application/json", body: String(decoding: data, as: UTF8.self) + "\n")
    }

    /// A JSON error: `{"error": code, "message": text}`.
    static func error(_ status: Int, _ code: String, _ message: String) -> AdminResponse {
        json(status, ["error": code, "message": message])
    }
}

/// The admin API's endpoints. Later features add theirs here; each checks auth itself.
struct AdminAPI {
    let token: AdminToken
    unowned let gateway: Gateway
    let throttle: AdminAuthThrottle

    /// The longest an answer may take (ns): an upgrade's readiness timeout, then the grace a
    /// failed new process has to exit.
    var longestAnswer: UInt64 { gateway.config.timeouts.upgrade + 10_000_000_000 }

    /// Answers `request`: at once, except `POST /admin/upgrade`, answered once the new binary
    /// serves or has failed (`reply` is then called later, on the control loop).
    func handle(_ request: AdminRequest, reply: @escaping (AdminResponse) -> Void) {
        guard request.method == "POST" && request.path == "/admin/upgrade" else { return reply(handle(request)) }
        if let denied = authenticate(request) { return reply(denied) }
        gateway.startUpgrade { result in
            switch result {
            case .success(let report):
                reply(.json(200, ["status": "upgraded", "pid": Int(report.pid), "previous_pid": Int(getpid()), "binary": report.binary,
                                  "ready_ms": Int(report.readyAfter / 1_000_000)]))
            case .failure(let failure):
                reply(.error(500, "upgrade_failed", failure.description + "; this process (pid \(getpid())) keeps serving"))
            }
        }
    }

    func handle(_ request: AdminRequest) -> AdminResponse {
        switch (request.method, request.path) {
        case ("GET", "/healthz"):
            return gateway.draining ? .json(503, ["status": "draining"]) : .json(200, ["status": "ok"])
        case ("GET", "/readyz"):
            let checks = gateway.readiness()
            let ready = checks.allSatisfy(\.value)
            return .json(ready ? 200 : 503, ["ready": ready, "checks": checks])
        case ("GET", "/metrics"):
            if gateway.adminSettings.metricsRequireAuth, let denied = authenticate(request) { return denied }
            let text = MetricsRenderer.render(gateway.metrics, shared: gateway.shared, generation: gateway.configGeneration,
                                              draining: gateway.draining, certificates: gateway.certificates?.contexts ?? [],
                                              auditDropped: gateway.audit?.dropped ?? 0)
            return AdminResponse(status: 200, contentType: "text/plain; version=0.0.4", body: text)
        case ("GET", "/admin/status"):
            if let denied = authenticate(request) { return denied }
            return .json(200, StatusReport.json(gateway))
        case ("POST", "/admin/certs/reload"):
            if let denied = authenticate(request) { return denied }
            switch gateway.reload() {
            case .success(let generation):
                let certificates = (gateway.certificates?.contexts ?? []).map { ["names": $0.names, "serial": $0.serial, "not_after": $0.notAfter] as [String: any Sendable] }
                return .json(200, ["status": "reloaded", "generation": generation, "certificates": certificates])
            case .failure(let failure):
                return .error(422, "reload_failed", failure.description)
            }
        case (_, _) where request.path == BlocklistAPI.prefix || request.path.hasPrefix(BlocklistAPI.prefix + "/"):
            if let denied = authenticate(request) ?? refusedDuringUpgrade(request) { return denied }
            return BlocklistAPI(gateway: gateway).handle(request)
        case (_, _) where request.path.hasPrefix(Self.challengePrefix):
            if let denied = authenticate(request) ?? refusedDuringUpgrade(request) { return denied }
            return challenge(request, token: String(request.path.dropFirst(Self.challengePrefix.count)))
        case (_, "/healthz"), (_, "/readyz"), (_, "/metrics"), (_, "/admin/certs/reload"), (_, "/admin/status"), (_, "/admin/upgrade"):
            return .error(405, "method_not_allowed", "\(request.method) is not allowed on \(request.path)")
        default:
            if let denied = authenticate(request) { return denied }
            return .error(404, "not_found", "no admin endpoint \(request.method) \(request.path)")
        }
    }

    private static let challengePrefix = "/admin/acme/challenges/"

    /// `PUT` stores a key authorization for the token (served for `acme.token_ttl`); `DELETE`
    /// removes it.
    private func challenge(_ request: AdminRequest, token: String) -> AdminResponse {
        guard ChallengeStore.isValidToken(token.utf8) else {
            return .error(400, "invalid_token", "an ACME token is 1 to 256 base64url characters (A-Z a-z 0-9 - _)")
        }
        switch request.method {
        case "PUT":
            let keyAuthorization = String(decoding: request.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard keyAuthorization.hasPrefix(token + "."), keyAuthorization.count <= 1024,
                  keyAuthorization.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                return .error(400, "invalid_key_authorization", "the body must be the key authorization: \"<token>.<account thumbprint>\"")
            }
            gateway.challenges.put(token: token, keyAuthorization: keyAuthorization, ttl: gateway.acmeTokenTTL)
            return .json(201, ["token": token, "ttl_seconds": Int(gateway.acmeTokenTTL / 1_000_000_000)])
        case "DELETE":
            return gateway.challenges.remove(token: token) ? AdminResponse(status: 204, contentType: "application/json", body: "")
                : .error(404, "not_found", "no pushed token \(token)")
        default:
            return .error(405, "method_not_allowed", "use PUT or DELETE on \(Self.challengePrefix)<token>")
        }
    }

    /// A 503 for a change of state (blocklist, ACME tokens) while a binary upgrade is under way:
    /// the new process has read that state already, and would not see the change.
    private func refusedDuringUpgrade(_ request: AdminRequest) -> AdminResponse? {
        guard request.method != "GET" && (gateway.upgradeInProgress || gateway.handedOver) else { return nil }
        var response = AdminResponse.error(503, "upgrade_in_progress", "a binary upgrade is in progress: retry the change in a moment")
        response.extraHeaders = [("Retry-After", "1")]
        return response
    }

    /// Nil when the bearer token is right; a 401 otherwise, or 429 while the source is locked
    /// out for failing too often (`AdminAuthThrottle`).
    private func authenticate(_ request: AdminRequest) -> AdminResponse? {
        let source = request.peer ?? "unknown"
        let now = MonotonicClock.now()
        if let seconds = throttle.retryAfter(source, now: now) {
            var response = AdminResponse.error(429, "too_many_failures", "too many failed authentications from \(source); retry in \(seconds) s")
            response.extraHeaders = [("Retry-After", String(seconds))]
            return response
        }
        if token.accepts(authorization: request.headers["authorization"]) { return nil }
        let lockedOut = throttle.recordFailure(source, now: now)
        gateway.auditControl(.adminAuthFailure, clientIP: request.peer, method: request.method, path: request.path, details: [
            ("reason", .text(request.headers["authorization"] == nil ? "no token" : "wrong token")),
            ("locked_out", .text(lockedOut ? "yes" : "no")),
        ])
        var response = AdminResponse.error(401, "unauthorized", "a valid bearer token is required")
        response.extraHeaders = [("WWW-Authenticate", "Bearer")]
        return response
    }
}
