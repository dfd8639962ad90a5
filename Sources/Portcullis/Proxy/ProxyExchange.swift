/// One request's walk through the gateway, from its parsed head to its last response byte: the
/// request path's decision (`start`), the wait on strict rate limits (`+Policy`), the request
/// body (`+RequestBody`), forwarding and relaying (`+Proxying`), the gateway's own answers
/// (`+LocalAnswers`), the one failure path (`+Failure`), and the audit events and access record
/// (`+Audit`, `+AccessLog`). It holds everything that belongs to one request and nothing that
/// belongs to the connection: the decision, the response codec and relay, the upstream binding,
/// the buffered body, the configuration snapshot the request was decided under.
///
/// The client side drives it and hands itself in on every call (`for client:`), as any
/// `ExchangeClient`: that protocol is all the exchange may touch of it (the request codec, the
/// two byte buffers, reading, flushing, the progress clocks, and `exchangeEnded`/`startTunnel`
/// to hand it back). Today's client is the HTTP/1.1 `ClientConnection`, which has one exchange
/// at a time and reuses it, request after request; an HTTP/2 stream would be another.
/// The exchange keeps its own step (`step`); the connection only knows that an
/// exchange has the request.
final class ProxyExchange<Client: ExchangeClient> {
    /// The worker, held strongly as `ClientConnection.worker` is (uses without a retain).
    let worker: Worker
    /// The client's connection is TLS (`Strict-Transport-Security` goes on its responses).
    let secure: Bool
    /// The plain facts of the exchange: clocks, byte marks, request ID, method, flags.
    var state = ExchangeState(startedAt: 0, method: .get)
    /// Where an exchange is. Its connection is in `.exchange` while it is deciding, waiting on
    /// Redis, buffering or proxying, in `.tunnel` once it became one.
    enum Step {
        /// The request path runs (`ProxyExchange.start`).
        case deciding
        /// Waiting for Redis to answer the request's strict rate limits.
        case awaitingPolicy
        /// Reading the request body whole before the upstream exchange (request buffering).
        case bufferingBody
        /// Forwarding the request and relaying the response.
        case proxying
        /// A `101` was relayed: the connection copies bytes both ways (`ClientConnection+Tunnel`).
        case tunnel
        /// Answered, failed or complete: the connection goes on without it.
        case ended
    }

    /// Where this one is (kept out of `state`, which every request starts afresh with one copy:
    /// in it, it made that copy twice as dear).
    var step = Step.deciding
    /// When the current upstream wait began: connecting, then the response head once the
    /// request is sent.
    var waitStartedAt: UInt64 = 0
    /// Counts the requests started, so an answer from Redis can tell that its request is still
    /// the one in flight.
    var serial = 0
    /// The configuration the request was decided under (compared before storing: storing the
    /// same snapshot again costs a retain and a release).
    var snapshot: GatewaySnapshot
    /// What the request path decided (route policy, client, rate limits), kept between requests
    /// for its buffers.
    var decision: RequestDecision {
        @inline(__always) unsafeAddress { UnsafePointer(decisionSlot.pointer) }
        @inline(__always) unsafeMutableAddress { decisionSlot.pointer }
    }
    /// The upstream's response as parsed (`ResponseCodec`).
    var response: ResponseCodec {
        @inline(__always) unsafeAddress { UnsafePointer(responseSlot.pointer) }
        @inline(__always) unsafeMutableAddress { responseSlot.pointer }
    }
    /// The response's way to the client: gzip, and the client's own framing (`ResponseRelay`,
    /// with `Client.Framing`).
    var relay: ResponseRelay<Client.Framing> {
        @inline(__always) unsafeAddress { UnsafePointer(relaySlot.pointer) }
        @inline(__always) unsafeMutableAddress { relaySlot.pointer }
    }
    /// Where the decision, the response codec and the relay live (`OwnedSlot`: worked on in
    /// place, never copied; calls into C and zlib included).
    private let decisionSlot: OwnedSlot<RequestDecision>
    private let responseSlot = OwnedSlot(ResponseCodec())
    private let relaySlot: OwnedSlot<ResponseRelay<Client.Framing>>
    /// The wait for strict rate limits in Redis (`+Policy`), started afresh when there is one.
    var strictWait = StrictLimitsWait()
    /// The access-log record (nil when the access log is off).
    var accessRecord: AccessRecord?
    /// The upstream: pool, server, connection, forwarded head, attempts.
    let binding: UpstreamBinding
    /// The request body read whole before the upstream exchange, while it is being read and
    /// then sent (nil when the body streams), and the bytes it holds of the worker's share.
    var bufferedBody: ByteBuffer?
    var bufferReservation: Int64 = 0

    init(worker: Worker, secure: Bool) {
        self.worker = worker
        self.secure = secure
        snapshot = worker.snapshot
        binding = UpstreamBinding(buffers: worker.buffers)
        decisionSlot = OwnedSlot(RequestDecision(headers: worker.snapshot.defaultHeaders))
        relaySlot = OwnedSlot(ResponseRelay(streams: worker.gzipStreams, metrics: worker.metrics))
    }

    deinit {
        decisionSlot.free()
        responseSlot.free()
        relaySlot.free()
    }

    /// Moves the exchange on as far as it can go now; true if anything changed.
    @inline(__always)
    func advance(for client: Client) -> Bool {
        switch step {
        case .bufferingBody: stepBufferingBody(for: client)
        case .proxying: stepProxying(for: client)
        case .deciding, .awaitingPolicy, .tunnel, .ended: false
        }
    }

    /// Ends the exchange and hands the connection back (`ClientConnection.exchangeEnded`).
    func end(keepAlive: Bool, for client: Client) {
        step = .ended
        client.exchangeEnded(keepAlive: keepAlive)
    }

    /// Counts a response sent to the client, for the worker and the request's route.
    @inline(__always)
    func countResponse(status: Int) {
        worker.metrics.countResponse(status: status)
        decision.routeResponses?[min(max(status / 100, 1), 5)].add(1)
    }

    /// What the gateway adds to the current response.
    var addedFields: AddedFields {
        AddedFields(policy: decision.headers, secure: secure, rateLimit: decision.rateLimitFields, date: worker.dateField.line(at: worker.epochSeconds))
    }

    /// Takes the client's `X-Request-ID` when well-formed, else makes one.
    func assignRequestID(for client: Client) {
        if let range = client.request.head.requestIDRange {
            state.requestID.set(UnsafeBufferPointer(start: client.input.readPointer + range.lowerBound, count: range.count))
        } else {
            worker.requestIDs.next(into: &state.requestID)
        }
    }

    /// Answers a request the client's parser refused, with nothing of the previous request on
    /// it; the client closes after it (nothing that follows a framing error can be trusted).
    func refuse(status: Int, for client: Client) {
        // Nothing of the previous request's route or rate limits belongs on this answer.
        decision.reset(headers: snapshot.defaultHeaders)
        worker.requestIDs.next(into: &state.requestID)
        client.writeAnswer(.error(status), requestID: state.requestID, keepAlive: false, headOnly: false, added: addedFields)
        countResponse(status: status)
    }

    /// The connection closes: the upstream, gzip's stream and the buffered body's memory go back.
    func abandon(now: UInt64) {
        binding.unbind(reuse: false, now: now)
        relay.releaseGzip()
        releaseBufferedBody()
    }
}
