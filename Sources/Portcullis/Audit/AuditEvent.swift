/// The kinds of audit event, each with its severity. The README lists every type's `details`.
enum AuditEventType: String, CaseIterable, Sendable {
    case rateLimitExceeded = "RATE_LIMIT_EXCEEDED"
    case ipBlocked = "IP_BLOCKED"
    case requestTooLarge = "REQUEST_TOO_LARGE"
    case malformedRequest = "MALFORMED_REQUEST"
    case clientTooSlow = "CLIENT_TOO_SLOW"
    case connectionLimit = "CONNECTION_LIMIT"
    case tlsHandshakeFailed = "TLS_HANDSHAKE_FAILED"
    case adminAuthFailure = "ADMIN_AUTH_FAILURE"
    case blocklistUpdated = "BLOCKLIST_UPDATED"
    case certReloaded = "CERT_RELOADED"
    case certExpiring = "CERT_EXPIRING"
    case acmeChallengeServed = "ACME_CHALLENGE_SERVED"
    case upstreamUnavailable = "UPSTREAM_UNAVAILABLE"
    case redisUnavailable = "REDIS_UNAVAILABLE"
    case redisRestored = "REDIS_RESTORED"
    case configReloaded = "CONFIG_RELOADED"
    case binaryUpgraded = "BINARY_UPGRADED"

    var severity: String {
        switch self {
        case .redisUnavailable, .upstreamUnavailable, .certExpiring: "error"
        case .rateLimitExceeded, .ipBlocked, .requestTooLarge, .malformedRequest, .adminAuthFailure, .clientTooSlow,
             .connectionLimit: "warning"
        case .tlsHandshakeFailed, .blocklistUpdated, .certReloaded, .acmeChallengeServed, .redisRestored, .configReloaded,
             .binaryUpgraded: "info"
        }
    }
}

/// One security decision or operational change, as a JSON line: `timestamp` (RFC 3339, ms,
/// UTC), `event_type`, `severity`, `request_id`, `method`, `path`, `client_ip`, `user_agent`,
/// `details`. Made where the decision is taken, rendered on the control thread.
struct AuditEvent: Sendable {
    /// A value in `details`.
    enum Value: Sendable, Equatable {
        case text(String)
        case number(Int64)
    }

    var milliseconds: Int64
    var type: AuditEventType
    var requestID: String?
    var method: String?
    var path: String?
    var clientIP: String?
    var userAgent: String?
    var details: [(String, Value)]

    init(_ type: AuditEventType, milliseconds: Int64, clientIP: String? = nil, details: [(String, Value)] = []) {
        self.type = type
        self.milliseconds = milliseconds
        self.clientIP = clientIP
        self.details = details
    }

    /// The JSON line (with its newline).
    func jsonLine() -> [UInt8] {
        var text = "{\"timestamp\":\"\(UTCTime.rfc3339(milliseconds: milliseconds))\",\"event_type\":\"\(type.rawValue)\",\"severity\":\"\(type.severity)\""
        for (key, value) in [("request_id", requestID), ("method", method), ("path", path), ("client_ip", clientIP), ("user_agent", userAgent)] {
            text += ",\"\(key)\":" + (value.map(JSONText.quoted) ?? "null")
        }
        text += ",\"details\":{"
        text += details.map { key, value in
            switch value {
            case .text(let string): "\(JSONText.quoted(key)):\(JSONText.quoted(string))"
            case .number(let number): "\(JSONText.quoted(key)):\(number)"
            }
        }.joined(separator: ",")
        text += "}}\n"
        return Array(text.utf8)
    }
}
