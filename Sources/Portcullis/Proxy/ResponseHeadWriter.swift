/// Writes the response head sent to the client: the upstream's status and end-to-end fields
/// minus those the header policy drops, the gateway's added fields, framing and connection
/// handling, and the request id.
enum ResponseHeadWriter {
    static func write(_ head: ResponseHead, from source: UnsafePointer<UInt8>, requestID: [UInt8],
                      framing: BodyFraming, connection: ConnectionHeader, added: AddedFields, into out: ByteBuffer) {
        out.append("HTTP/1.1 ")
        out.append(decimal: head.status)
        out.append(byte: ASCII.space)
        out.append(source + head.reasonRange.lowerBound, count: head.reasonRange.count)
        out.append("\r\n")
        var replaced: UInt64 = 0
        for field in head.fields {
            switch field.kind {
            case .contentLength, .xRequestID:
                continue
            case .upgrade where head.status == 101:
                break
            case .other where !field.listedInConnection:
                switch added.policy.fate(ofUpstreamField: source + Int(field.nameStart), count: Int(field.nameEnd - field.nameStart)) {
                case .keep: break
                case .drop: continue
                case .keepInsteadOf(let index): replaced |= 1 << UInt64(index)
                }
            default:
                if field.isHopByHop { continue }
            }
            RequestHeadWriter.appendField(field, from: source, to: out)
        }
        out.append("X-Request-ID: ")
        out.append(requestID)
        out.append("\r\n")
        added.append(exceptReplaced: replaced, to: out)
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
