/// The exchange's clocks while its connection waits on it: connecting, the client's body (its
/// silence, its rate, its total time), the response head once the request is sent, the response
/// body. The connection keeps one deadline (`ClientConnection+Timeouts`) and asks for this one
/// while it is buffering a body or proxying.
extension ProxyExchange {
    /// The earliest of the waits the exchange is in (0: none; Redis's command timeout bounds a
    /// wait on it).
    func deadline(for client: Client) -> UInt64 {
        let timeouts = snapshot.config.timeouts
        switch step {
        case .bufferingBody: return bodyDeadline(timeouts, for: client)
        case .proxying: break
        case .deciding, .awaitingPolicy, .tunnel, .ended: return 0
        }
        if binding.connection?.connecting == true { return waitStartedAt + timeouts.upstreamConnect }
        var deadline = UInt64.max
        if !client.request.bodyDone { deadline = bodyDeadline(timeouts, for: client) }
        switch response.state {
        case .awaitingHead where client.request.bodyDone:
            deadline = min(deadline, waitStartedAt + timeouts.upstreamResponseHead)
        case .body:
            deadline = min(deadline, client.responseProgressAt + timeouts.upstreamBodyIdle)
        default:
            break
        }
        return deadline
    }

    /// The exchange's deadline passed: the wait that ran out fails the exchange (`fail`).
    func deadlineReached(for client: Client) {
        let timeouts = snapshot.config.timeouts
        guard step == .bufferingBody || step == .proxying else { return }
        if step == .bufferingBody {
            bodyDeadlineReached(timeouts, for: client)
        } else if binding.connection?.connecting == true {
            fail(.connectTimeout, for: client)
        } else if !client.request.bodyDone && worker.loop.now >= bodyDeadline(timeouts, for: client) {
            bodyDeadlineReached(timeouts, for: client)
        } else {
            // No head, or no body bytes for `upstream_body_idle`: answered while nothing of
            // the response has left (a body gzipped whole leaves with its head), else cut.
            if response.started { worker.log.warning("no response bytes for \(timeouts.upstreamBodyIdle / 1_000_000)ms") }
            fail(.responseTimeout, for: client)
        }
    }

    /// The earliest of the request body's limits: silence, the next rate check, the total.
    private func bodyDeadline(_ timeouts: TimeoutSettings, for client: Client) -> UInt64 {
        min(client.requestProgressAt + timeouts.clientBodyIdle, state.bodyClock.nextDeadline)
    }

    /// The body's deadline passed: 408 (or a cut, once the response began) with a
    /// `CLIENT_TOO_SLOW` event when a limit was broken; nothing when a rate check passed.
    private func bodyDeadlineReached(_ timeouts: TimeoutSettings, for client: Client) {
        let reason: String
        if worker.loop.now >= client.requestProgressAt + timeouts.clientBodyIdle {
            reason = "body_idle"
        } else if let broken = state.bodyClock.check(now: worker.loop.now) {
            reason = broken
        } else {
            return
        }
        fail(.clientTooSlow(reason: reason, bodyBytes: client.request.bodyBytesSoFar), for: client)
    }
}
