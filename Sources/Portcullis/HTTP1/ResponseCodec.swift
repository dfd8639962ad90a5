/// The response direction of one HTTP/1.1 exchange as the upstream sends it, one value (like
/// HAProxy's `struct h1m`): the response parser and head, how the body is framed and how much is
/// left. `reset()` starts a new request's response. How the gateway frames the response for the
/// client is `ResponseEncoder`'s.
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

    /// A final (non-1xx, non-101) head was parsed: its body's framing.
    mutating func beginBody() {
        framing = head.bodyFraming
        switch framing {
        case .none:
            break
        case .length(let length):
            remaining = length
        case .chunked, .untilClose:
            decoder = ChunkedDecoder()
        }
        state = framing == .none || framing == .length(0) ? .done : .body
    }
}
