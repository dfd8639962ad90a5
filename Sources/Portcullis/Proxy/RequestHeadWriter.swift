/// Facts about the client side of a connection that the forwarded request carries.
struct ForwardingContext {
    /// The peer's IP address as text (the client, or the proxy in front of it).
    let peerIP: [UInt8]
    /// `http` or `https`.
    let scheme: StaticString
    /// The listener's port as text.
    let port: [UInt8]
}

/// Writes the request head sent upstream: the client's fields minus hop-by-hop ones and any
/// forwarding fields it tried to set, then the gateway's own `X-Forwarded-*`, `X-Real-IP` and
/// `X-Request-ID`, and a framing the gateway chose itself (it re-frames the body).
///
/// `Host` is the authority the gateway routed on: an absolute-form target's, not the client's
/// `Host` field (RFC 9112 §3.2.2). `Forwarded` is passed on only from a trusted proxy
/// (`peerIsTrusted`); from anyone else it would let a client tell the application any address.
///
/// `leaveOpen` stops before the framing field: a chunked body being buffered gets its
/// `Content-Length` (`end`) once its size is known.
///
/// `head` is `inout` only so that it is read in place in the codec's slot (`OwnedSlot`).
enum RequestHeadWriter {
    static func write(_ head: inout RequestHead, from source: UnsafePointer<UInt8>, requestID: RequestID,
                      context: ForwardingContext, clientIP: [UInt8], peerIsTrusted: Bool, paths: PathNormalizer,
                      hostFallback: [UInt8], leaveOpen: Bool = false, into out: ByteBuffer) {
        out.append(source + head.methodRange.lowerBound, count: head.methodRange.count)
        out.append(byte: ASCII.space)
        writeTarget(head, from: source, paths: paths, to: out)
        out.append(" HTTP/1.1\r\n")
        var hostWritten = false
        var copier = FieldLineCopier(from: source)
        for field in head.fields {
            switch field.kind {
            case .contentLength, .expect, .xForwardedFor, .xForwardedProto, .xForwardedHost, .xForwardedPort,
                 .xRealIP, .xRequestID:
                continue
            case .upgrade where head.isUpgrade:
                copier.keep(field, to: out)
            case .host where !head.isAbsoluteForm:
                hostWritten = true
                copier.keep(field, to: out)
            case .host:
                continue
            case .forwarded where !peerIsTrusted:
                continue
            default:
                if !field.isHopByHop { copier.keep(field, to: out) }
            }
        }
        copier.flush(to: out)
        if !hostWritten {
            out.append("Host: ")
            if let authority = head.authorityRange {
                out.append(source + authority.lowerBound, count: authority.count)
            } else {
                out.append(hostFallback)
            }
            out.append("\r\n")
        }
        writeForwardedFor(head, from: source, peerIP: context.peerIP, to: out)
        out.append("X-Forwarded-Proto: ")
        out.append(context.scheme)
        if let authority = head.authorityRange, !authority.isEmpty {
            out.append("\r\nX-Forwarded-Host: ")
            out.append(source + authority.lowerBound, count: authority.count)
        }
        out.append("\r\nX-Forwarded-Port: ")
        out.append(context.port)
        out.append("\r\nX-Real-IP: ")
        out.append(clientIP)
        out.append("\r\nX-Request-ID: ")
        requestID.append(to: out)
        // RFC 9110 §7.6.3: a gateway sends Via on every request it forwards (after the ones received).
        out.append(head.minorVersion == 0 ? "\r\nVia: 1.0 portcullis\r\n" : "\r\nVia: 1.1 portcullis\r\n")
        if !leaveOpen { end(framing: head.bodyFraming, isUpgrade: head.isUpgrade, into: out) }
    }

    /// Ends the head: the framing field, `Connection: upgrade` for a WebSocket handshake, the
    /// blank line.
    static func end(framing: BodyFraming, isUpgrade: Bool, into out: ByteBuffer) {
        framing.writeField(to: out)
        if isUpgrade { out.append("Connection: upgrade\r\n") }
        out.append("\r\n")
    }

    /// The path in its normalized forwarded form (the request path already refused the paths
    /// that cannot be normalized), then the query as received.
    private static func writeTarget(_ head: RequestHead, from source: UnsafePointer<UInt8>, paths: PathNormalizer, to out: ByteBuffer) {
        let path = UnsafeBufferPointer(start: source + head.pathRange.lowerBound, count: head.pathRange.count)
        if paths.isForwardedForm(path) {
            out.append(source + head.pathAndQueryRange.lowerBound, count: head.pathAndQueryRange.count)
            return
        }
        _ = paths.normalize(path, forwarded: out, matching: nil)
        out.append(source + head.pathRange.upperBound, count: head.pathAndQueryRange.upperBound - head.pathRange.upperBound)
    }

    /// `X-Forwarded-For`: every value received, in order, then the peer's address.
    private static func writeForwardedFor(_ head: RequestHead, from source: UnsafePointer<UInt8>, peerIP: [UInt8], to out: ByteBuffer) {
        out.append("X-Forwarded-For: ")
        for field in head.fields where field.kind == .xForwardedFor && field.valueEnd > field.valueStart {
            out.append(source + Int(field.valueStart), count: Int(field.valueEnd - field.valueStart))
            out.append(", ")
        }
        out.append(peerIP)
        out.append("\r\n")
    }
}
