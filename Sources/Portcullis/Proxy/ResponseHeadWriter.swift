/// Writes the response head sent to the client: the upstream's status and end-to-end fields,
/// the gateway's framing and connection handling, and the request id.
enum ResponseHeadWriter {
    static func write(_ head: ResponseHead, from source: UnsafePointer<UInt8>, requestID: [UInt8],
                      framing: BodyFraming, connection: ConnectionHeader, extraFields: [UInt8], into out: ByteBuffer) {
        out.append("HTTP/1.1 ")
        out.append(decimal: head.status)
        out.append(byte: ASCII.space)
        out.append(source + head.reasonRange.lowerBound, count: head.reasonRange.count)
        out.append("\r\n")
        for field in head.fields {
            switch field.kind {
            case .contentLength, .xRequestID:
                continue
            case .upgrade where head.status == 101:
                RequestHeadWriter.appendField(field, from: source, to: out)
            default:
                if !field.isHopByHop { RequestHeadWriter.appendField(field, from: source, to: out) }
            }
        }
        out.append("X-Request-ID: ")
        out.append(requestID)
        out.append("\r\n")
        out.append(extraFields)
        framing.writeField(to: out)
        connection.write(to: out)
        out.append("\r\n")
    }
}

/// The `Connection` field the gateway sends to the client, if any.
enum ConnectionHeader {
    /// HTTP/1.1 keep-alive: nothing to say.
    case implicit
    case keepAlive
    case close
    case upgrade

    func write(to out: ByteBuffer) {
        switch self {
        case .implicit: break
        case .keepAlive: out.append("Connection: keep-alive\r\n")
        case .close: out.append("Connection: close\r\n")
        case .upgrade: out.append("Connection: upgrade\r\n")
        }
    }
}
