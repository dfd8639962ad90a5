/// Writes the response head sent to the client: the upstream's status and end-to-end fields
/// minus those the header policy drops, the gateway's added fields, framing and connection
/// handling, and the request id. With `gzip`, the body is compressed by the gateway:
/// `Content-Encoding: gzip` and `Vary: Accept-Encoding` are added and a strong `ETag` becomes
/// weak (the bytes differ from the upstream's).
///
/// `head` is `inout` only so that it is read in place in the codec's slot (`OwnedSlot`).
enum ResponseHeadWriter {
    static func write(_ head: inout ResponseHead, from source: UnsafePointer<UInt8>, requestID: RequestID,
                      framing: BodyFraming, connection: ConnectionHeader, added: AddedFields, gzip: Bool = false, into out: ByteBuffer) {
        out.append("HTTP/1.1 ")
        out.append(decimal: head.status)
        out.append(byte: ASCII.space)
        out.append(source + head.reasonRange.lowerBound, count: head.reasonRange.count)
        out.append("\r\n")
        var replaced: UInt64 = 0
        var hasDate = false
        var copier = FieldLineCopier(from: source)
        for field in head.fields {
            switch field.kind {
            case .contentLength, .xRequestID:
                continue
            case .date:
                hasDate = true
            case .upgrade where head.status == 101:
                break
            case .other where gzip && isStrongETag(field, source):
                copier.flush(to: out)
                out.append("ETag: W/")
                out.append(source + Int(field.valueStart), count: Int(field.valueEnd - field.valueStart))
                out.append("\r\n")
                continue
            case .other where !field.listedInConnection:
                switch added.policy.fate(ofUpstreamField: source + Int(field.nameStart), count: Int(field.nameEnd - field.nameStart)) {
                case .keep: break
                case .drop: continue
                case .keepInsteadOf(let index): replaced |= 1 << UInt64(index)
                }
            default:
                if field.isHopByHop { continue }
            }
            copier.keep(field, to: out)
        }
        copier.flush(to: out)
        out.append("X-Request-ID: ")
        requestID.append(to: out)
        out.append("\r\n")
        added.append(exceptReplaced: replaced, withDate: !hasDate, to: out)
        if gzip { out.append("Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n") }
        framing.writeField(to: out)
        connection.write(to: out)
        out.append("\r\n")
    }
}

extension ResponseHeadWriter {
    private static func isStrongETag(_ field: HeaderField, _ source: UnsafePointer<UInt8>) -> Bool {
        Bytes.equalsLowercase(source + Int(field.nameStart), Int(field.nameEnd - field.nameStart), "etag")
            && field.valueEnd > field.valueStart && source[Int(field.valueStart)] == ASCII.quote
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
