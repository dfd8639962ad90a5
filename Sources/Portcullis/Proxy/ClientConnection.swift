/// One client connection on one worker: reads request heads, hands each to its exchange
/// (`ProxyExchange`: the request path, forwarding, relaying, failing), tunnels upgraded
/// connections (`ClientConnection+Tunnel`) and closes cleanly. Its bytes move through
/// `transport` (TLS or plain, the buffers, the socket's readiness); the HTTP/1.1 codec's request
/// direction is `request`, its response direction the exchange's relay.
///
/// Everything happens in `drive()`, which makes every step that is possible now (read, parse,
/// move bytes between the two sockets, write) until nothing moves. Buffers are capped at
/// `ExchangeLimits.highWater` in each direction so a fast sender never makes the gateway buffer a slow
/// receiver's data.
final class ClientConnection: Selectable, ExchangeClient {
    enum Phase {
        /// TLS handshake in progress (HTTPS listeners).
        case handshaking
        /// Waiting for (or parsing) a request head.
        case readingHead
        /// The exchange has the request (`ProxyExchange`, whose `step` says where
        /// it is); it hands the connection back with `exchangeEnded` or `startTunnel`.
        case exchange
        /// After a 101: bytes flow both ways untouched.
        case tunnel
        /// Writing what is left, then closing.
        case closing
        /// Our side is shut; discarding what the client still sends so it reads our response.
        case lingering
    }

    static let lingeringTime: UInt64 = 2_000_000_000

    /// The owning worker, which outlives every connection it accepts. Held strongly on purpose:
    /// what is reached through a strong `let` (the loop, the metrics, the buffer pool) is used
    /// without a retain, while through an `unowned(unsafe)` reference every such object was
    /// retained and released around each use (380 instructions a request, `bench/instructions.sh`).
    /// No cycle outlives a connection: the worker drops it at `close()`.
    let worker: Worker
    let forwarding: ForwardingContext
    /// The peer's address (parsed once at accept).
    let peerAddress: IPAddress
    /// Counted in `ConnectionsPerAddress` at accept (uncounted at close).
    let countedPerAddress: Bool
    /// The client's bytes on the wire (`ClientTransport`).
    let transport: ClientTransport
    /// The listener's own address, the `Host` of last resort for HTTP/1.0 requests without one.
    let localHost: [UInt8]
    /// The HTTP/1.1 codec's request direction (head parser, body framing); the response
    /// direction is the exchange's (`ProxyExchange.relay`).
    var request: RequestCodec {
        @inline(__always) unsafeAddress { UnsafePointer(requestSlot.pointer) }
        @inline(__always) unsafeMutableAddress { requestSlot.pointer }
    }
    /// Where the request codec lives (`OwnedSlot`: worked on in place, never copied).
    private let requestSlot: OwnedSlot<RequestCodec>
    var phase = Phase.readingHead
    var requestsServed = 0
    /// Last time request bytes moved (read from the client, written upstream).
    var requestProgressAt: UInt64
    /// Last time response bytes moved (read from the upstream, written to the client).
    var responseProgressAt: UInt64
    /// When the connection's current wait began (handshake, head, keep-alive, lingering; the
    /// exchange times its upstream waits itself).
    var phaseStartedAt: UInt64

    // What the exchange sees of the connection (`ExchangeClient`).
    typealias Framing = ResponseEncoder
    var input: ByteBuffer { transport.input }
    var output: ByteBuffer { transport.output }
    var bytesFlushed: Int64 { transport.bytesFlushed }
    var clientGone: Bool { transport.peerClosed || transport.broken }
    var isOpen: Bool { fd >= 0 }

    func writeAnswer(_ answer: LocalAnswer, requestID: RequestID, keepAlive: Bool, headOnly: Bool, added: AddedFields) {
        GatewayResponse.write(answer, requestID: requestID, keepAlive: keepAlive, headOnly: headOnly, added: added, into: transport.output)
    }

    /// The request in flight, from its parsed head to its last response byte (`ProxyExchange`):
    /// one at a time on an HTTP/1.1 connection, reused request after request.
    let exchange: ProxyExchange<ClientConnection>

    init(fd: Int32, worker: Worker, forwarding: ForwardingContext, localHost: [UInt8], peerAddress: IPAddress, countedPerAddress: Bool,
         tls: TLSSession?) {
        self.worker = worker
        self.countedPerAddress = countedPerAddress
        self.forwarding = forwarding
        self.peerAddress = peerAddress
        transport = ClientTransport(tls: tls)
        self.localHost = localHost
        exchange = ProxyExchange(worker: worker, secure: tls != nil)
        requestSlot = OwnedSlot(RequestCodec(limits: worker.snapshot.config.limits))
        requestProgressAt = worker.loop.now
        responseProgressAt = worker.loop.now
        phaseStartedAt = worker.loop.now
        super.init(fd: fd)
        if tls != nil { phase = .handshaking }
    }

    override func handleEvents(_ events: UInt32) {
        transport.note(events: events)
        drive()
    }

    /// Makes all the progress possible now, then sets the deadline for what it waits on.
    func drive() {
        borrowBuffers()
        while fd >= 0 {
            let progressed: Bool
            switch phase {
            case .handshaking: progressed = stepHandshaking()
            case .readingHead: progressed = stepReadingHead()
            case .exchange: progressed = exchange.advance(for: self)
            case .tunnel: progressed = stepTunnel()
            case .closing: progressed = stepClosing()
            case .lingering: progressed = stepLingering()
            }
            if !progressed { break }
        }
        guard fd >= 0 else { return }
        updateDeadline()
        returnBuffersIfIdle()
    }

    /// Takes storage for the input buffer from the worker's pool for the work `drive` is about
    /// to do (a no-op while it has some). A connection waiting for a head holds the input
    /// buffer only: 10,000 half-sent heads then cost one buffer each, not three.
    @inline(__always)
    func borrowBuffers() {
        transport.borrowInput(from: worker.buffers)
    }

    /// Takes storage for the output buffers, before anything is answered or forwarded.
    @inline(__always)
    func borrowOutputBuffers() {
        transport.borrowOutput(from: worker.buffers)
    }

    /// An idle connection (handshaking, or between requests with nothing buffered) gives its
    /// buffers' storage back: thousands of idle keep-alive connections then cost no buffer memory.
    @inline(__always)
    private func returnBuffersIfIdle() {
        guard phase == .readingHead || phase == .handshaking, transport.input.isEmpty, transport.output.isEmpty, exchange.binding.connection == nil else { return }
        giveBuffersBack()
    }

    private func giveBuffersBack() {
        transport.returnBuffers(to: worker.buffers)
    }

    // MARK: TLS handshake

    private func stepHandshaking() -> Bool {
        guard let tls = transport.tls else { return false }
        switch tls.handshake() {
        case .done:
            worker.metrics.tlsHandshakes.add(1)
            // With read-ahead OpenSSL may already hold the first request, read along with the
            // handshake; epoll will not report it, so look for it now.
            transport.readable = true
            phase = .readingHead
            phaseStartedAt = worker.loop.now
            return true
        case .wantRead:
            transport.readable = false
            return false
        case .wantWrite:
            waitForWritable()
            return false
        case .failed:
            handshakeFailed(reason: "handshake failed")
            return false
        }
    }

    func handshakeFailed(reason: String) {
        worker.metrics.tlsHandshakeFailures.add(1)
        exchange.auditRequest(.tlsHandshakeFailed, details: [("reason", .text(reason))], withHead: false, for: self)
        close()
    }

    // MARK: Reading request heads

    private func stepReadingHead() -> Bool {
        var progressed = flushClient()
        guard fd >= 0, transport.output.readableCount < ExchangeLimits.highWater else { return progressed }
        if !transport.input.isEmpty {
            let outcome = request.parseHead(transport.input.readable)
            switch outcome {
            case .complete:
                borrowOutputBuffers()
                requestsServed += 1
                phase = .exchange
                exchange.start(for: self)
                return true
            case .failed(let failure):
                refuse(status: failure.status)
                exchange.auditRequest(.malformedRequest, details: [("status", .number(Int64(failure.status))), ("reason", .text(failure.reason.description))],
                                      withHead: false, for: self)
                return true
            case .incomplete:
                break
            }
        }
        if worker.closingIdleConnections && transport.input.isEmpty && !transport.peerClosed && !transport.broken {
            // A request already in the socket is served rather than cut off (its readiness
            // event may not have been handled yet): the close races only with bytes on the wire.
            transport.readable = true
            if readClient() && !transport.input.isEmpty { return true }
        }
        if transport.peerClosed || transport.broken || (worker.closingIdleConnections && transport.input.isEmpty) {
            phase = .closing
            return true
        }
        if transport.input.isEmpty && transport.readable { phaseStartedAt = worker.loop.now }
        progressed = readClient() || progressed
        return progressed
    }

    /// The exchange is over: with `keepAlive` the next request is read, else the connection
    /// closes once its output is out.
    func exchangeEnded(keepAlive: Bool) {
        phase = keepAlive ? .readingHead : .closing
        phaseStartedAt = worker.loop.now
    }

    /// The exchange relayed a `101`: from now on the connection is a tunnel to its upstream.
    func startTunnel() {
        phase = .tunnel
    }

    /// Answers a request the parser refused, then closes: after a framing error nothing that
    /// follows on the connection can be trusted.
    func refuse(status: Int) {
        borrowOutputBuffers()
        exchange.refuse(status: status, for: self)
        transport.input.clear()
        phase = .closing
    }

    // MARK: Client socket I/O

    /// Reads from the client when it is readable; true if anything changed.
    func readClient() -> Bool {
        switch transport.read(from: fd) {
        case .bytes(let count):
            worker.metrics.bytesIn.add(count)
            if !request.bodyDone { exchange.state.bodyClock.count(count) }
            requestProgressAt = worker.loop.now
            return true
        case .nothing:
            return false
        case .endOfStream:
            return true
        case .failed:
            close()
            return false
        }
    }

    /// Writes pending output to the client; true if anything was written.
    func flushClient() -> Bool {
        switch transport.write(to: fd) {
        case .nothing:
            return false
        case .wrote(let count):
            worker.metrics.bytesOut.add(count)
            if transport.output.isEmpty {
                // Nothing left to send: an EPOLLOUT interest kept would wake the loop at every
                // ACK for the rest of the connection's life.
                worker.loop.setInterest(EventLoop.connectionEvents, for: self)
            } else {
                waitForWritable()
            }
            responseProgressAt = worker.loop.now
            return true
        case .blocked:
            waitForWritable()
            return false
        case .failed:
            close()
            return false
        }
    }

    /// The socket's send buffer is full: ask the loop to report when it drains.
    private func waitForWritable() {
        transport.sendBlocked(now: worker.loop.now)
        worker.loop.setInterest(EventLoop.connectionEventsWithWrite, for: self)
    }

    // MARK: Closing

    private func stepClosing() -> Bool {
        if !transport.output.isEmpty {
            if transport.broken { close(); return false }
            return flushClient()
        }
        if transport.peerClosed || transport.broken || (transport.input.isEmpty && request.bodyDone && !transport.readable) {
            close()
            return false
        }
        // Unread request bytes may still arrive; closing now would reset the connection and
        // could destroy the response in flight. Shut our side and drain theirs for a while.
        transport.shutdownSending(fd)
        phase = .lingering
        phaseStartedAt = worker.loop.now
        return true
    }

    private func stepLingering() -> Bool {
        guard let moreComing = transport.discardIncoming(from: fd) else {
            close()
            return false
        }
        return moreComing
    }

    /// Closes the connection (and its upstream, if an exchange is in flight).
    func close() {
        guard fd >= 0 else { return }
        exchange.abandon(now: worker.loop.now)
        transport.endSession(notified: phase == .lingering)
        if countedPerAddress { worker.shared.connectionsPerAddress.close(peerAddress) }
        worker.loop.deregisterAndClose(self)
        worker.connectionClosed(self)
        giveBuffersBack()
    }

    override func deadlineReached() {
        timeoutReached()
    }

    deinit {
        requestSlot.free()
    }
}
