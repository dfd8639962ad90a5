/// The client's side of a relayed response, over HTTP/1.x: how the body is framed for this
/// client, and the bytes that framing adds around the upstream's head and body (`Connection`,
/// the length or `Transfer-Encoding` field, chunk sizes, the last chunk).
///
/// With `RequestCodec` it is the client codec an exchange talks to: the exchange
/// (`ProxyExchange+Proxying`) parses the upstream's response with `ResponseCodec` and hands
/// heads to this type, `ResponseRelay` body bytes; it alone knows about chunks, HTTP/1.0
/// clients and `Connection` handling. Another client codec (HTTP/2: HEADERS and DATA frames)
/// replaces this type, not the relay. A value started afresh for each request (`start`). Heads
/// are taken `inout` only so that they are read in place in the codec's slot (`OwnedSlot`).
struct ResponseEncoder: ResponseFraming {
    /// How the body is framed towards the client.
    private(set) var framing = BodyFraming.none
    /// The client's HTTP minor version: an HTTP/1.0 client gets no chunks and no interim heads.
    private(set) var clientMinorVersion = 1
    /// The gateway gzips the body (`compressing`): the head says so.
    private(set) var compressed = false

    /// A new request, from a client speaking HTTP/1.`clientMinorVersion`.
    mutating func start(clientMinorVersion: Int) {
        self.clientMinorVersion = clientMinorVersion
        framing = .none
        compressed = false
    }

    /// A final head arrived: for the client, the same length as the upstream's body, else chunks
    /// (for HTTP/1.0, the end of the connection). A body-less response keeps the
    /// `Content-Length` it announced (a `HEAD` or a 304), except a 204, which has none.
    @inline(__always)
    mutating func begin(_ head: ResponseHead) {
        switch head.bodyFraming {
        case .none:
            framing = head.contentLength >= 0 && head.status != 204 ? .length(head.contentLength) : .none
        case .length(let length):
            framing = .length(length)
        case .chunked, .untilClose:
            framing = unknownLength
        }
    }

    /// The gateway compresses the body: its length is not known in advance.
    mutating func compressing() {
        compressed = true
        framing = unknownLength
    }

    private var unknownLength: BodyFraming {
        clientMinorVersion == 1 ? .chunked : .untilClose
    }

    /// Only the end of the connection ends the body: the client connection cannot be kept.
    var bodyEndsWithClose: Bool {
        framing == .untilClose
    }

    /// Writes the final head, announcing whether the connection stays open (`keepAlive`, which
    /// must be false when `bodyEndsWithClose`).
    @inline(__always)
    func writeHead(_ head: inout ResponseHead, from source: UnsafePointer<UInt8>, requestID: RequestID, keepAlive: Bool, added: AddedFields,
                   into out: ByteBuffer) {
        let connection: ConnectionHeader = !keepAlive ? .close : (clientMinorVersion == 0 ? .keepAlive : .implicit)
        ResponseHeadWriter.write(&head, from: source, requestID: requestID, framing: framing, connection: connection, added: added, gzip: compressed, into: out)
    }

    /// Relays an interim (1xx) head to an HTTP/1.1 client. `100 Continue` is never relayed: the
    /// gateway answers `Expect: 100-continue` itself.
    func writeInterimHead(_ head: inout ResponseHead, from source: UnsafePointer<UInt8>, requestID: RequestID, added: AddedFields, into out: ByteBuffer) {
        guard head.status != 100, clientMinorVersion == 1 else { return }
        ResponseHeadWriter.write(&head, from: source, requestID: requestID, framing: .none, connection: .implicit, added: added, into: out)
    }

    /// Writes a `101 Switching Protocols` head: what follows is the tunnel's.
    func writeSwitchingProtocols(_ head: inout ResponseHead, from source: UnsafePointer<UInt8>, requestID: RequestID, added: AddedFields, into out: ByteBuffer) {
        ResponseHeadWriter.write(&head, from: source, requestID: requestID, framing: .none, connection: .upgrade, added: added, into: out)
    }

    /// Queues body bytes, framed.
    @inline(__always)
    func appendBody(_ bytes: UnsafePointer<UInt8>, count: Int, to out: ByteBuffer) {
        if case .chunked = framing {
            ChunkedEncoder.appendChunk(bytes, count: count, to: out)
        } else {
            out.append(bytes, count: count)
        }
    }

    /// The body is complete: the last chunk, when chunked.
    @inline(__always)
    func finishBody(to out: ByteBuffer) {
        if case .chunked = framing { ChunkedEncoder.appendLastChunk(to: out) }
    }
}
