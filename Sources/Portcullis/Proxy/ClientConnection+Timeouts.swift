/// The connection's clock: one deadline for whatever it waits on now (handshake, head, body,
/// upstream, keep-alive, lingering), and what happens when it passes.
extension ClientConnection {
    func updateDeadline() {
        let timeouts = exchange.snapshot.config.timeouts
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
        case .exchange:
            deadline = exchange.deadline(for: self)
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

    /// The deadline passed: time the current wait out.
    func timeoutReached() {
        borrowBuffers()
        let timeouts = exchange.snapshot.config.timeouts
        if let sendDeadline = sendDeadline(timeouts), worker.loop.now >= sendDeadline {
            // A reader that stopped reading: close, which releases the upstream connection too.
            exchange.auditRequest(.clientTooSlow, details: [("reason", .text("send_idle")), ("unsent_bytes", .number(Int64(transport.output.readableCount)))],
                                  withHead: false, for: self)
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
        case .exchange:
            exchange.deadlineReached(for: self)
        case .tunnel, .closing, .lingering:
            close()
            return
        }
        drive()
    }
}
