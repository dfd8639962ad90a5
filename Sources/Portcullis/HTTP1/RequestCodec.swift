/// The request direction of an HTTP/1.1 client connection, as one value (like HAProxy's
/// `struct h1m`): the head parser and the parsed head, then how the request's body is framed
/// and how far it has come. The connection keeps one and hands it to the body code; what the
/// exchange decides about the request lives elsewhere (`Exchange`, `RequestDecision`).
struct RequestCodec {
    /// What one `takeBody` call did.
    enum BodyStep: Equatable {
        /// Bytes were decoded (or framing bytes consumed).
        case moved
        /// The input holds no complete piece: read more.
        case needMore
        /// The body ended.
        case finished
        /// A chunked body passed `limit`: `received` data bytes so far.
        case tooLarge(received: Int64)
        /// The chunked framing is broken.
        case invalid
    }

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

    /// Decodes at most `room` body bytes at the front of `input`, hands them to `sink` and
    /// consumes them with their framing. A chunked body's data is counted against `limit` (a
    /// declared length was checked against it before the body began).
    @inline(__always)
    mutating func takeBody(from input: ByteBuffer, room: Int, limit: Int64, _ sink: (UnsafePointer<UInt8>, Int) -> Void) -> BodyStep {
        switch framing {
        case .length:
            let count = Int(min(Int64(min(input.readableCount, room)), remaining))
            sink(input.readPointer, count)
            input.consume(count)
            remaining -= Int64(count)
            return remaining == 0 ? .finished : .moved
        case .chunked:
            switch decoder.next(input.readable, maxData: room) {
            case .data(let offset, let count):
                bodyReceived += Int64(count)
                guard bodyReceived <= limit else { return .tooLarge(received: bodyReceived) }
                sink(input.readPointer + offset, count)
                input.consume(offset + count)
                return .moved
            case .needMore(let consumed):
                input.consume(consumed)
                return consumed == 0 ? .needMore : .moved
            case .end(let consumed):
                input.consume(consumed)
                return .finished
            case .invalid:
                return .invalid
            }
        case .none, .untilClose:
            return .finished
        }
    }

    /// Body bytes read so far (for the audit record of a slow body).
    var bodyBytesSoFar: Int64 {
        if case .length(let length) = framing { return length - remaining }
        return bodyReceived
    }
}
