/// The request body on its way from the client: decoded from its framing by the codec
/// (`takeRequestBody`), then either streamed to the upstream as it arrives (`pumpRequestBody`)
/// or, for routes that buffer, read whole first (`stepBufferingBody`) so that a slow upload
/// never holds an upstream connection and a body over the limit never reaches it.
extension ProxyExchange {
    /// Decodes at most `room` body bytes of the client's input into `sink` (`RequestCodec.takeBody`).
    /// A body over the route's limit or badly framed ends the exchange here.
    @inline(__always)
    func takeRequestBody(room: Int, for client: Client, _ sink: (UnsafePointer<UInt8>, Int) -> Void) -> RequestCodec.BodyStep {
        let step = client.request.takeBody(from: client.input, room: room, limit: state.bodyLimit, sink)
        switch step {
        case .tooLarge(let received):
            fail(.requestBodyTooLarge(received: received, limit: state.bodyLimit), for: client)
        case .invalid:
            fail(.invalidRequestBody, for: client)
        case .moved, .needMore, .finished:
            break
        }
        return step
    }

    /// Answers `Expect: 100-continue` once the gateway is ready for the body.
    private func sendContinueIfExpected(for client: Client) -> Bool {
        guard client.request.expectContinue && client.input.isEmpty && !response.started else { return false }
        client.output.append("HTTP/1.1 100 Continue\r\n\r\n")
        client.request.expectContinue = false
        return true
    }

    // MARK: Streaming

    /// Moves request body bytes from the client buffer to the upstream, re-framed, as far as
    /// the upstream's buffer has room.
    func pumpRequestBody(into upstream: UpstreamConnection, for client: Client) -> Bool {
        if let bufferedBody { return pumpBufferedBody(bufferedBody, into: upstream) }
        guard !client.request.bodyDone else { return false }
        var progressed = sendContinueIfExpected(for: client)
        let chunked = client.request.framing == .chunked
        while !client.request.bodyDone && upstream.output.readableCount < ExchangeLimits.highWater {
            if client.input.isEmpty {
                if client.clientGone {
                    client.close()
                    return false
                }
                guard client.readClient() else { break }
                progressed = true
                continue
            }
            let step = takeRequestBody(room: ExchangeLimits.highWater - upstream.output.readableCount, for: client) { bytes, count in
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
                if !client.readClient() { return progressed }
            case .finished:
                if chunked { ChunkedEncoder.appendLastChunk(to: upstream.output) }
                client.request.bodyDone = true
            case .tooLarge, .invalid:
                return true
            }
            state.bodyForwarded = true
            progressed = true
        }
        if !client.request.bodyDone && upstream.output.readableCount >= ExchangeLimits.highWater { state.bodyClock.holdBack() }
        return progressed
    }

    /// Sends the buffered body, as far as the upstream's buffer has room.
    private func pumpBufferedBody(_ body: ByteBuffer, into upstream: UpstreamConnection) -> Bool {
        let count = min(body.readableCount, ExchangeLimits.highWater - upstream.output.readableCount)
        guard count > 0 else { return false }
        upstream.output.append(body.readPointer, count: count)
        body.consume(count)
        state.bodyForwarded = true
        if body.isEmpty { releaseBufferedBody() }
        return true
    }

    // MARK: Buffering

    /// Sets memory aside for reading the body whole when the route buffers bodies of this size
    /// and the worker's share of `request_buffer_memory` allows; true when it will.
    func startBufferingIfCovered(_ limits: BodyLimits, for client: Client) -> Bool {
        guard !state.isUpgrade, let reservation = limits.bufferReservation(for: client.request.framing) else { return false }
        guard worker.requestBuffers.reserve(reservation, share: snapshot.requestBufferShare) else {
            worker.metrics.requestBufferOverflows.add(1)
            return false
        }
        bufferedBody = ByteBuffer(capacity: Int(max(reservation, 1)))
        bufferReservation = reservation
        return true
    }

    /// Reads the body into `bufferedBody` until it is complete, then starts the upstream exchange.
    func stepBufferingBody(for client: Client) -> Bool {
        var progressed = sendContinueIfExpected(for: client)
        progressed = client.flushClient() || progressed
        guard client.isOpen, let body = bufferedBody else { return progressed }
        while true {
            if client.input.isEmpty {
                if client.clientGone {
                    client.close()
                    return false
                }
                guard client.readClient() else { return progressed }
                progressed = true
                continue
            }
            switch takeRequestBody(room: Int.max, for: client, { bytes, count in body.append(bytes, count: count) }) {
            case .moved:
                progressed = true
            case .needMore:
                guard client.readClient() else { return progressed }
                progressed = true
            case .finished:
                bufferedBodyComplete(size: body.readableCount, for: client)
                return true
            case .tooLarge, .invalid:
                return true
            }
        }
    }

    /// The whole body is here: frame it with its length and start the upstream exchange.
    private func bufferedBodyComplete(size: Int, for client: Client) {
        if client.request.framing == .chunked {
            RequestHeadWriter.end(framing: .length(Int64(size)), isUpgrade: false, into: binding.forwardedHead)
        }
        client.request.framing = .length(Int64(size))
        client.request.bodyDone = true
        beginUpstreamExchange(for: client)
    }

    /// Gives the buffered body's memory back to the worker's share.
    func releaseBufferedBody() {
        guard bufferedBody != nil else { return }
        bufferedBody = nil
        worker.requestBuffers.release(bufferReservation)
        bufferReservation = 0
    }
}
