/// The connection's clock: one deadline for whatever it waits on now (handshake, head, body,
/// upstream, keep-alive, lingering), and what happens when it passes.
extension ClientConnection {
    func updateDeadline() {
        let timeouts = snapshot.config.timeouts
        let deadline: UInt64
        switch phase {
        case .handshaking:
            deadline = phaseStartedAt + (tls?.handshakeTimeout ?? timeouts.clientHeader)
        case .readingHead:
            if !output.isEmpty {
                deadline = responseProgressAt + timeouts.upstreamBodyIdle
            } else if input.isEmpty && requestsServed > 0 {
                deadline = phaseStartedAt + timeouts.keepAliveIdle
            } else {
                deadline = phaseStartedAt + timeouts.clientHeader
            }
        case .awaitingPolicy:
            // Redis's command timeout bounds the wait; the connection sets no clock of its own.
            deadline = 0
        case .proxying:
            deadline = exchangeDeadline(timeouts)
        case .tunnel:
            deadline = max(requestProgressAt, responseProgressAt) + timeouts.tunnelIdle
        case .closing:
            deadline = responseProgressAt + timeouts.upstreamBodyIdle
        case .lingering:
            deadline = phaseStartedAt + Self.lingeringTime
        }
        worker.loop.setDeadline(deadline, for: self)
    }

    /// The earliest of the waits an exchange is in: connecting, the client's body, the
    /// response head (once the request is sent), the response body.
    private func exchangeDeadline(_ timeouts: TimeoutSettings) -> UInt64 {
        if upstream?.connecting == true { return phaseStartedAt + timeouts.upstreamConnect }
        var deadline = UInt64.max
        if !requestBodyDone {
            deadline = min(requestProgressAt + timeouts.clientBodyIdle, bodyRateCheckAt, requestStartedAt + timeouts.clientBodyTotal)
        }
        switch responseState {
        case .awaitingHead where requestBodyDone:
            deadline = min(deadline, phaseStartedAt + timeouts.upstreamResponseHead)
        case .body:
            deadline = min(deadline, responseProgressAt + timeouts.upstreamBodyIdle)
        default:
            break
        }
        return deadline
    }

    /// Starts the body's clock when its exchange begins.
    func startBodyClock() {
        let timeouts = snapshot.config.timeouts
        bodyRateSince = worker.loop.now
        bodyBytesSinceCheck = 0
        bodyHeldBack = false
        bodyRateCheckAt = requestBodyDone || timeouts.clientBodyMinRate == 0 ? .max
            : worker.loop.now + timeouts.clientBodyRatePeriod
    }

    /// At a rate check or the body's time limit: why the body is refused, or nil when it may go
    /// on (the next period is measured from now).
    private func checkBodyClock(_ timeouts: TimeoutSettings) -> String? {
        let now = worker.loop.now
        if now >= requestStartedAt + timeouts.clientBodyTotal { return "body_time_limit" }
        let elapsed = max(now - bodyRateSince, 1)
        let rate = bodyBytesSinceCheck * 1_000_000_000 / Int64(elapsed)
        if rate < timeouts.clientBodyMinRate && !bodyHeldBack { return "body_rate_below_minimum" }
        bodyRateSince = now
        bodyBytesSinceCheck = 0
        bodyHeldBack = false
        bodyRateCheckAt = now + timeouts.clientBodyRatePeriod
        return nil
    }

    /// Body bytes received so far (for audit details).
    private var requestBodyReceivedSoFar: Int64 {
        if case .length(let length) = requestFraming { return length - requestRemaining }
        return requestBodyReceived
    }

    /// The deadline passed: time the current wait out.
    func timeoutReached() {
        borrowBuffers()
        switch phase {
        case .handshaking:
            handshakeFailed(reason: "handshake timeout")
            return
        case .readingHead:
            if input.isEmpty || !output.isEmpty {
                close()
                return
            }
            refuse(status: 408)
        case .awaitingPolicy:
            return
        case .proxying:
            let timeouts = snapshot.config.timeouts
            if upstream?.connecting == true {
                upstreamFailed(.connectTimeout)
            } else if !requestBodyDone && worker.loop.now >= requestProgressAt + timeouts.clientBodyIdle {
                if responseStarted {
                    close()
                    return
                }
                failExchange(status: 408)
            } else if !requestBodyDone && (worker.loop.now >= bodyRateCheckAt || worker.loop.now >= requestStartedAt + timeouts.clientBodyTotal) {
                guard let reason = checkBodyClock(timeouts) else { break }
                auditRequest(.clientTooSlow, details: [("reason", .text(reason)), ("body_bytes", .number(requestBodyReceivedSoFar))], withHead: false)
                if responseStarted {
                    close()
                    return
                }
                failExchange(status: 408)
            } else if responseState == .awaitingHead {
                upstreamFailed(.responseTimeout)
            } else {
                worker.log.warning("no response bytes for \(timeouts.upstreamBodyIdle / 1_000_000)ms; closing the client connection")
                close()
                return
            }
        case .tunnel, .closing, .lingering:
            close()
            return
        }
        drive()
    }
}
