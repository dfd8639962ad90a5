/// The header fields the gateway treats specially, recognised once while parsing so later
/// phases compare small integers instead of names.
public enum FieldKind: UInt8, Sendable {
    case other
    case host
    case contentLength
    case transferEncoding
    case connection
    case keepAlive
    case proxyConnection
    case te
    case trailer
    case upgrade
    case expect
    case xForwardedFor
    case xForwardedProto
    case xForwardedHost
    case xForwardedPort
    case xRealIP
    case xRequestID
    case proxyAuthenticate
    case proxyAuthorization
    /// RFC 7239 `Forwarded`: kept only from a trusted proxy (the gateway vouches for what it
    /// forwards).
    case forwarded
    /// The h2c upgrade's settings (RFC 7540 §3.2.1): connection-specific, never forwarded.
    case http2Settings
    case secWebSocketKey
    case secWebSocketVersion
    case date

    /// Fields that describe one connection hop and are never forwarded (RFC 9110 §7.6.1).
    @inline(__always)
    public var isHopByHop: Bool {
        switch self {
        case .connection, .keepAlive, .proxyConnection, .te, .trailer, .upgrade, .transferEncoding,
             .proxyAuthenticate, .proxyAuthorization, .http2Settings:
            return true
        default:
            return false
        }
    }

    /// Recognises a field name (case-insensitively).
    @inline(__always)
    static func classify(_ name: UnsafePointer<UInt8>, _ count: Int) -> FieldKind {
        switch count {
        case 2: return Bytes.equalsLowercase(name, count, "te") ? .te : .other
        case 4:
            if Bytes.equalsLowercase(name, count, "host") { return .host }
            return Bytes.equalsLowercase(name, count, "date") ? .date : .other
        case 6: return Bytes.equalsLowercase(name, count, "expect") ? .expect : .other
        case 7:
            if Bytes.equalsLowercase(name, count, "upgrade") { return .upgrade }
            return Bytes.equalsLowercase(name, count, "trailer") ? .trailer : .other
        case 9:
            if Bytes.equalsLowercase(name, count, "x-real-ip") { return .xRealIP }
            return Bytes.equalsLowercase(name, count, "forwarded") ? .forwarded : .other
        case 10:
            if Bytes.equalsLowercase(name, count, "connection") { return .connection }
            return Bytes.equalsLowercase(name, count, "keep-alive") ? .keepAlive : .other
        case 12: return Bytes.equalsLowercase(name, count, "x-request-id") ? .xRequestID : .other
        case 14:
            if Bytes.equalsLowercase(name, count, "content-length") { return .contentLength }
            return Bytes.equalsLowercase(name, count, "http2-settings") ? .http2Settings : .other
        case 15:
            if Bytes.equalsLowercase(name, count, "x-forwarded-for") { return .xForwardedFor }
            return .other
        case 16:
            if Bytes.equalsLowercase(name, count, "proxy-connection") { return .proxyConnection }
            if Bytes.equalsLowercase(name, count, "x-forwarded-host") { return .xForwardedHost }
            if Bytes.equalsLowercase(name, count, "x-forwarded-port") { return .xForwardedPort }
            return .other
        case 17:
            if Bytes.equalsLowercase(name, count, "transfer-encoding") { return .transferEncoding }
            if Bytes.equalsLowercase(name, count, "x-forwarded-proto") { return .xForwardedProto }
            return Bytes.equalsLowercase(name, count, "sec-websocket-key") ? .secWebSocketKey : .other
        case 18: return Bytes.equalsLowercase(name, count, "proxy-authenticate") ? .proxyAuthenticate : .other
        case 19: return Bytes.equalsLowercase(name, count, "proxy-authorization") ? .proxyAuthorization : .other
        case 21: return Bytes.equalsLowercase(name, count, "sec-websocket-version") ? .secWebSocketVersion : .other
        default: return .other
        }
    }
}

/// One header field as offsets into the buffer holding the head (name and trimmed value).
public struct HeaderField: Sendable {
    /// Fields a head has room for before its array grows: a browser's request or a typical
    /// response fits. Every connection keeps two heads this size for its whole life (20 bytes a
    /// field), so room for 32 cost 640 bytes more per idle connection for no common head.
    static let initialCapacity = 16

    public var nameStart: Int32
    public var nameEnd: Int32
    public var valueStart: Int32
    public var valueEnd: Int32
    public var kind: FieldKind
    /// Named by a `Connection` option, so hop-by-hop even though its name is not.
    public var listedInConnection = false

    /// True when the field is not forwarded to the next hop.
    @inline(__always) public var isHopByHop: Bool { kind.isHopByHop || listedInConnection }
}

/// A parse failure: the status to answer with and a short reason for logs and audit events.
public struct HTTPParseError: Error, Equatable, Sendable {
    /// 400, 414, 431, 501, 505 or 417.
    public let status: Int
    /// What was wrong, in a few words.
    public let reason: StaticString

    public init(_ status: Int, _ reason: StaticString) {
        self.status = status
        self.reason = reason
    }

    public static func == (lhs: HTTPParseError, rhs: HTTPParseError) -> Bool {
        lhs.status == rhs.status && lhs.reason.description == rhs.reason.description
    }
}
