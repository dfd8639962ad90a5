/// The connection's clock: one deadline for whatever it waits on now (handshake, head, body,
/// upstream, keep-alive, lingering), and what happens when it passes.
extension ClientConnection {
    func updateDeadline() {
        let timeouts = snapshot.config.timeouts
        var deadline: UInt64
        switch phase {
        case .handshaking:
            deadline = phaseStartedAt + (transport.tls?.handshakeTimeout ?? timeouts.clientHeader)
        case .readingHead:
            if !transport.output.isEmpty {
                deadline = responseProgressAt + timeouts.upstreamBodyIdle
            } else if transport.input.isEmpty && requestsServed > 0 {
                deadline = phaseStartedAt + timeouts.keepAliveIdle
            } else {
                deadline = phaseStartedAt + timeouts.clientHeader
            }
        case .awaitingPolicy:
            // Redis's command timeout bounds the wait; the connection sets no clock of its own.
            deadline = 0
        case .bufferingBody:
            deadline = bodyDeadline(timeouts)
        case .proxying:
            deadline = exchangeDeadline(timeouts)
        case .tunnel:
            deadline = max(requestProgressAt, responseProgressAt) + timeouts.tunnelIdle
        case .closing:
            deadline = responseProgressAt + timeouts.upstreamBodyIdle
        case .lingering:
            deadline = phaseStartedAt + Self.lingeringTime
        }
        if let sendDeadline = sendDeadline(timeouts) { deadline = deadline == 0 ? sendDeadline : min(deadline, sendDeadline) }
        worker.loop.setDeadline(deadline, for: self)
    }

    /// While the client takes none of the bytes waiting for it: when it has been too long.
    private func sendDeadline(_ timeouts: TimeoutSettings) -> UInt64? {
        guard !transport.writable, !transport.output.isEmpty, phase != .handshaking, phase != .lingering else { return nil }
        return transport.sendBlockedSince + timeouts.clientSendIdle
    }

    /// The earliest of the waits an exchange is in: connecting, the client's body, the
    /// response head (once the request is sent), the response body.
    private func exchangeDeadline(_ timeouts: TimeoutSettings) -> UInt64 {
        if binding.connection?.connecting == true { return phaseStartedAt + timeouts.upstreamConnect }
        var deadline = UInt64.max
        if !request.bodyDone { deadline = bodyDeadline(timeouts) }
        switch response.state {
        case .awaitingHead where request.bodyDone:
            deadline = min(deadline, phaseStartedAt + timeouts.upstreamResponseHead)
        case .body:
            deadline = min(deadline, responseProgressAt + timeouts.upstreamBodyIdle)
        default:
            break
        }
        return deadline
    }

    /// The earliest of the request body's limits: silence, the next rate check, the total.
    private func bodyDeadline(_ timeouts: TimeoutSettings) -> UInt64 {
        min(requestProgressAt + timeouts.clientBodyIdle, exchange.bodyClock.nextDeadline)
    }

    /// The body's deadline passed: 408 (or a cut, once the response began) with a
    /// `CLIENT_TOO_SLOW` event when a limit was broken; nothing when a rate check passed.
    private func bodyDeadlineReached(_ timeouts: TimeoutSettings) {
        let reason: String
        if worker.loop.now >= requestProgressAt + timeouts.clientBodyIdle {
            reason = "body_idle"
        } else if let broken = exchange.bodyClock.check(now: worker.loop.now) {
            reason = broken
        } else {
            return
        }
        fail(.clientTooSlow(reason: reason, bodyBytes: request.bodyBytesSoFar))
    }

    /// The deadline passed: time the current wait out.
    func timeoutReached() {
        borrowBuffers()
        let timeouts = snapshot.config.timeouts
        if let sendDeadline = sendDeadline(timeouts), worker.loop.now >= sendDeadline {
            // A reader that stopped reading: close, which releases the upstream connection too.
            auditRequest(.clientTooSlow, details: [("reason", .text("send_idle")), ("unsent_bytes", .number(Int64(transport.output.readableCount)))],
                         withHead: false)
            close()
            return
        }
        switch phase {
        case .handshaking:
            handshakeFailed(reason: "handshake timeout")
            return
        case .readingHead:
            if transport.input.isEmpty || !transport.output.isEmpty {
                close()
                return
            }
            refuse(status: 408)
        case .awaitingPolicy:
            return
        case .bufferingBody:
            bodyDeadlineReached(timeouts)
        case .proxying:
            if binding.connection?.connecting == true {
                fail(.connectTimeout)
            } else if !request.bodyDone && worker.loop.now >= bodyDeadline(timeouts) {
                bodyDeadlineReached(timeouts)
            } else {
                // No head, or no body bytes for `upstream_body_idle`: answered while nothing of
                // the response has left (a body gzipped whole leaves with its head), else cut.
                if response.started { worker.log.warning("no response bytes for \(timeouts.upstreamBodyIdle / 1_000_000)ms") }
                fail(.responseTimeout)
            }
        case .tunnel, .closing, .lingering:
            close()
            return
        }
        drive()
    }
}
