import Glibc

/// Request methods the gateway treats specially; any other token is `.other` and forwarded.
public enum HTTPMethod: UInt8, Sendable {
    case get, head, post, put, delete, options, patch, trace, connect, other

    /// Safe and idempotent methods may be retried on a fresh upstream connection (RFC 9110 §9.2.2).
    public var isIdempotent: Bool {
        switch self {
        case .get, .head, .put, .delete, .options, .trace: return true
        default: return false
        }
    }

    static func classify(_ pointer: UnsafePointer<UInt8>, _ count: Int) -> HTTPMethod {
        func equals(_ literal: StaticString) -> Bool {
            count == literal.utf8CodeUnitCount && memcmp(pointer, literal.utf8Start, count) == 0
        }
        switch count {
        case 3: return equals("GET") ? .get : (equals("PUT") ? .put : .other)
        case 4: return equals("HEAD") ? .head : (equals("POST") ? .post : .other)
        case 5: return equals("PATCH") ? .patch : (equals("TRACE") ? .trace : .other)
        case 6: return equals("DELETE") ? .delete : .other
        case 7: return equals("OPTIONS") ? .options : (equals("CONNECT") ? .connect : .other)
        default: return .other
        }
    }
}

/// How a message body is delimited.
public enum BodyFraming: Equatable, Sendable {
    /// No body.
    case none
    /// Exactly this many bytes.
    case length(Int64)
    /// `Transfer-Encoding: chunked`.
    case chunked
    /// Until the connection closes (responses only).
    case untilClose

    /// Writes the field that announces this framing (`Content-Length` or `Transfer-Encoding`).
    func writeField(to out: ByteBuffer) {
        switch self {
        case .length(let length):
            out.append("Content-Length: ")
            out.append(decimal: Int(length))
            out.append("\r\n")
        case .chunked:
            out.append("Transfer-Encoding: chunked\r\n")
        case .none, .untilClose:
            break
        }
    }
}

/// A parsed request head: offsets into the connection's input buffer plus the facts the
/// request path needs. Reused across requests on one connection (its field array keeps its
/// storage), so parsing allocates nothing.
public struct RequestHead {
    public var method: HTTPMethod = .other
    public var methodRange: Range<Int> = 0..<0
    /// The target as sent (origin-form, or absolute-form rewritten below).
    public var targetRange: Range<Int> = 0..<0
    /// The origin-form part forwarded upstream: path and query.
    public var pathAndQueryRange: Range<Int> = 0..<0
    /// The path alone (no query), used for routing.
    public var pathRange: Range<Int> = 0..<0
    /// The authority: from an absolute-form target, else the Host field; nil if neither.
    public var authorityRange: Range<Int>?
    /// The target was in absolute form: its authority replaces the client's `Host`.
    public var isAbsoluteForm = false
    /// 0 for HTTP/1.0, 1 for HTTP/1.1 (and higher 1.x minors).
    public var minorVersion = 1
    public var fields: [HeaderField] = []
    /// Bytes from the start of the buffer to the end of the blank line.
    public var headLength = 0
    public var bodyFraming: BodyFraming = .none
    public var keepAlive = true
    public var expectContinue = false
    /// A WebSocket handshake: `GET`, HTTP/1.1, `Upgrade: websocket`, `Connection: upgrade` and
    /// the `Sec-WebSocket-Key` / `-Version` fields.
    public var isUpgrade = false
    /// A valid client-supplied `X-Request-ID` to keep.
    public var requestIDRange: Range<Int>?

    public init() {
        fields.reserveCapacity(HeaderField.initialCapacity)
    }

    /// Clears everything for the next request, keeping the field storage.
    mutating func reset() {
        method = .other
        methodRange = 0..<0
        targetRange = 0..<0
        pathAndQueryRange = 0..<0
        pathRange = 0..<0
        authorityRange = nil
        isAbsoluteForm = false
        minorVersion = 1
        fields.removeAll(keepingCapacity: true)
        headLength = 0
        bodyFraming = .none
        keepAlive = true
        expectContinue = false
        isUpgrade = false
        requestIDRange = nil
    }
}
