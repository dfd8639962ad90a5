/// The request body on its way from the client: decoded from its framing (`takeRequestBody`),
/// then either streamed to the upstream as it arrives (`pumpRequestBody`) or, for routes that
/// buffer, read whole first (`stepBufferingBody`) so that a slow upload never holds an upstream
/// connection and a body over the limit never reaches it.
extension ClientConnection {
    /// What one `takeRequestBody` call did.
    enum BodyStep {
        /// Bytes were decoded (or framing bytes consumed).
        case moved
        /// `input` holds no complete piece: read more.
        case needMore
        /// The body ended.
        case finished
        /// The body was refused and the exchange ended: 413 past the route's limit, 400 for a
        /// chunked framing error.
        case refused
    }

    /// Decodes at most `room` body bytes at the front of `input`, hands them to `sink` and
    /// consumes them (with their framing). A body over the limit or badly framed ends the
    /// exchange here.
    @inline(__always)
    func takeRequestBody(room: Int, _ sink: (UnsafePointer<UInt8>, Int) -> Void) -> BodyStep {
        switch request.framing {
        case .length:
            let count = Int(min(Int64(min(transport.input.readableCount, room)), request.remaining))
            sink(transport.input.readPointer, count)
            transport.input.consume(count)
            request.remaining -= Int64(count)
            return request.remaining == 0 ? .finished : .moved
        case .chunked:
            let event = request.decoder.next(transport.input.readable, maxData: room)
            switch event {
            case .data(let offset, let count):
                request.bodyReceived += Int64(count)
                guard request.bodyReceived <= exchange.bodyLimit else {
                    fail(.requestBodyTooLarge(received: request.bodyReceived, limit: exchange.bodyLimit))
                    return .refused
                }
                sink(transport.input.readPointer + offset, count)
                transport.input.consume(offset + count)
                return .moved
            case .needMore(let consumed):
                transport.input.consume(consumed)
                return consumed == 0 ? .needMore : .moved
            case .end(let consumed):
                transport.input.consume(consumed)
                return .finished
            case .invalid:
                fail(.invalidRequestBody)
                return .refused
            }
        case .none, .untilClose:
            return .finished
        }
    }

    /// Answers `Expect: 100-continue` once the gateway is ready for the body.
    private func sendContinueIfExpected() -> Bool {
        guard request.expectContinue && transport.input.isEmpty && !response.started else { return false }
        transport.output.append("HTTP/1.1 100 Continue\r\n\r\n")
        request.expectContinue = false
        return true
    }

    // MARK: Streaming

    /// Moves request body bytes from the client buffer to the upstream, re-framed, as far as
    /// the upstream's buffer has room.
    func pumpRequestBody(into upstream: UpstreamConnection) -> Bool {
        if let bufferedBody { return pumpBufferedBody(bufferedBody, into: upstream) }
        guard !request.bodyDone else { return false }
        var progressed = sendContinueIfExpected()
        let chunked = request.framing == .chunked
        while !request.bodyDone && upstream.output.readableCount < Self.highWater {
            if transport.input.isEmpty {
                if transport.peerClosed || transport.broken {
                    close()
                    return false
                }
                guard readClient() else { break }
                progressed = true
                continue
            }
            let step = takeRequestBody(room: Self.highWater - upstream.output.readableCount) { bytes, count in
                if chunked {
                    ChunkedEncoder.appendChunk(bytes, count: count, to: upstream.output)
                } else {
                    upstream.output.append(bytes, count: count)
                }
            }
            switch step {
            case .moved:
                break
            case .needMore:
                if !readClient() { return progressed }
            case .finished:
                if chunked { ChunkedEncoder.appendLastChunk(to: upstream.output) }
                request.bodyDone = true
            case .refused:
                return true
            }
            exchange.bodyForwarded = true
            progressed = true
        }
        if !request.bodyDone && upstream.output.readableCount >= Self.highWater { exchange.bodyClock.holdBack() }
        return progressed
    }

    /// Sends the buffered body, as far as the upstream's buffer has room.
    private func pumpBufferedBody(_ body: ByteBuffer, into upstream: UpstreamConnection) -> Bool {
        let count = min(body.readableCount, Self.highWater - upstream.output.readableCount)
        guard count > 0 else { return false }
        upstream.output.append(body.readPointer, count: count)
        body.consume(count)
        exchange.bodyForwarded = true
        if body.isEmpty { releaseBufferedBody() }
        return true
    }

    // MARK: Buffering

    /// Sets memory aside for reading the body whole when the route buffers bodies of this size
    /// and the worker's share of `request_buffer_memory` allows; true when it will.
    func startBufferingIfCovered(_ limits: BodyLimits) -> Bool {
        guard !exchange.isUpgrade, let reservation = limits.bufferReservation(for: request.framing) else { return false }
        guard worker.requestBuffers.reserve(reservation, share: snapshot.requestBufferShare) else {
            worker.metrics.requestBufferOverflows.add(1)
            return false
        }
        bufferedBody = ByteBuffer(capacity: Int(max(reservation, 1)))
        bufferReservation = reservation
        return true
    }

    /// Reads the body into `bufferedBody` until it is complete, then starts the exchange.
    func stepBufferingBody() -> Bool {
        var progressed = sendContinueIfExpected()
        progressed = flushClient() || progressed
        guard fd >= 0, let body = bufferedBody else { return progressed }
        while true {
            if transport.input.isEmpty {
                if transport.peerClosed || transport.broken {
                    close()
                    return false
                }
                guard readClient() else { return progressed }
                progressed = true
                continue
            }
            switch takeRequestBody(room: Int.max, { bytes, count in body.append(bytes, count: count) }) {
            case .moved:
                progressed = true
            case .needMore:
                guard readClient() else { return progressed }
                progressed = true
            case .finished:
                bufferedBodyComplete(size: body.readableCount)
                return true
            case .refused:
                return true
            }
        }
    }

    /// The whole body is here: frame it with its length and start the upstream exchange.
    private func bufferedBodyComplete(size: Int) {
        if request.framing == .chunked {
            RequestHeadWriter.end(framing: .length(Int64(size)), isUpgrade: false, into: binding.forwardedHead)
        }
        request.framing = .length(Int64(size))
        request.bodyDone = true
        beginUpstreamExchange()
    }

    /// Gives the buffered body's memory back to the worker's share.
    func releaseBufferedBody() {
        guard bufferedBody != nil else { return }
        bufferedBody = nil
        worker.requestBuffers.release(bufferReservation)
        bufferReservation = 0
    }
}
