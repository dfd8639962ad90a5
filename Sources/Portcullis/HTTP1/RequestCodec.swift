/// The request direction of an HTTP/1.1 client connection, as one value (like HAProxy's
/// `struct h1m`): the head parser and the parsed head, then how the request's body is framed
/// and how far it has come. The connection keeps one and hands it to the body code; what the
/// exchange decides about the request lives elsewhere (`Exchange`, `RequestDecision`).
struct RequestCodec {
    var parser: RequestParser
    var head: RequestHead
    /// How the current request's body is framed (rewritten to `.length` once buffered whole).
    var framing = BodyFraming.none
    /// Body bytes still to come of a `.length` body.
    var remaining: Int64 = 0
    var decoder = ChunkedDecoder()
    /// Body data a chunked body has brought so far.
    var bodyReceived: Int64 = 0
    /// The whole body has been read (true for a request without one).
    var bodyDone = true
    /// The client asked for `100 Continue` and has not had it yet.
    var expectContinue = false

    init(limits: HeadLimits) {
        parser = RequestParser(limits: limits)
        head = RequestHead()
    }

    /// Parses the head at the start of `bytes` into `head`.
    @inline(__always)
    mutating func parseHead(_ bytes: UnsafeBufferPointer<UInt8>) -> RequestParser.Outcome {
        parser.parse(bytes, into: &head)
    }

    /// The head was consumed and its body follows: framing from the head, and the parser ready
    /// for the head after this request.
    mutating func beginBody() {
        framing = head.bodyFraming
        remaining = if case .length(let length) = framing { length } else { 0 }
        decoder = ChunkedDecoder()
        bodyReceived = 0
        bodyDone = framing == .none
        expectContinue = head.expectContinue
        parser.reset()
    }

    /// The head was answered locally and consumed; any body it announced is not read.
    mutating func skipBody() {
        bodyDone = head.bodyFraming == .none
        parser.reset()
    }

    /// Body bytes read so far (for the audit record of a slow body).
    var bodyBytesSoFar: Int64 {
        if case .length(let length) = framing { return length - remaining }
        return bodyReceived
    }
}
