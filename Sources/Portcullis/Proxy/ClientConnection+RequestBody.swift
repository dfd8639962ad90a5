/// The request body on its way from the client: decoded from its framing by the codec
/// (`takeRequestBody`), then either streamed to the upstream as it arrives (`pumpRequestBody`)
/// or, for routes that buffer, read whole first (`stepBufferingBody`) so that a slow upload
/// never holds an upstream connection and a body over the limit never reaches it.
extension ClientConnection {
    /// Decodes at most `room` body bytes of the client's input into `sink` (`RequestCodec.takeBody`).
    /// A body over the route's limit or badly framed ends the exchange here.
    @inline(__always)
    func takeRequestBody(room: Int, _ sink: (UnsafePointer<UInt8>, Int) -> Void) -> RequestCodec.BodyStep {
        let step = request.takeBody(from: transport.input, room: room, limit: exchange.bodyLimit, sink)
        switch step {
        case .tooLarge(let received):
            fail(.requestBodyTooLarge(received: received, limit: exchange.bodyLimit))
        case .invalid:
            fail(.invalidRequestBody)
        case .moved, .needMore, .finished:
            break
        }
        return step
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
            case .tooLarge, .invalid:
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
            case .tooLarge, .invalid:
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
