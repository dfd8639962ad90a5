/// The response direction of one HTTP/1.1 exchange, as one value (like HAProxy's `struct h1m`):
/// the upstream's response parser and head, how its body is framed and how much is left, and how
/// the gateway re-frames that body for the client. `reset()` starts a new request's response.
struct ResponseCodec {
    enum State {
        case awaitingHead
        case body
        case done
    }

    var parser = ResponseParser()
    var state = State.awaitingHead
    var head = ResponseHead()
    /// How the upstream frames the body, and what is left of a `.length` body.
    var framing = BodyFraming.none
    var remaining: Int64 = 0
    var decoder = ChunkedDecoder()
    /// How the body is framed towards the client.
    var clientFraming = BodyFraming.none
    /// The final response's head is queued for the client.
    var started = false
    /// Interim (1xx) responses relayed so far.
    var interimResponses = 0

    /// Ready for the response to a new request (the head's field storage is kept).
    mutating func reset() {
        state = .awaitingHead
        started = false
        interimResponses = 0
    }

    /// Parses the upstream head at the start of `bytes`; `requestMethod` decides whether a body follows.
    @inline(__always)
    mutating func parseHead(_ bytes: UnsafeBufferPointer<UInt8>, requestMethod: HTTPMethod) -> RequestParser.Outcome {
        parser.parse(bytes, requestMethod: requestMethod, into: &head)
    }

    /// A final (non-1xx, non-101) head was parsed: sets the body's framing both ways. An HTTP/1.0
    /// client gets an unknown-length body delimited by close, a 1.1 client gets it chunked.
    mutating func beginBody(clientMinorVersion: Int) {
        framing = head.bodyFraming
        switch framing {
        case .none:
            clientFraming = head.contentLength >= 0 && head.status != 204 ? .length(head.contentLength) : .none
        case .length(let length):
            clientFraming = .length(length)
            remaining = length
        case .chunked, .untilClose:
            clientFraming = clientMinorVersion == 1 ? .chunked : .untilClose
            decoder = ChunkedDecoder()
        }
        state = framing == .none || framing == .length(0) ? .done : .body
    }
}
