/// After a `101 Switching Protocols` (WebSocket and the like) the gateway only copies bytes
/// both ways, with the same buffer caps, until either side closes.
extension ClientConnection {
    func stepTunnel() -> Bool {
        guard let upstream = exchange.binding.connection else {
            phase = .closing
            return true
        }
        var progressed = false
        if !transport.input.isEmpty && upstream.output.readableCount < ExchangeLimits.highWater {
            upstream.output.append(transport.input.readable)
            transport.input.clear()
            progressed = true
        } else if transport.input.isEmpty && upstream.output.readableCount < ExchangeLimits.highWater && readClient() {
            progressed = true
        }
        if upstream.writable && !upstream.output.isEmpty {
            switch upstream.flush() {
            case .bytes: progressed = true; requestProgressAt = worker.loop.now
            case .wouldBlock: break
            case .endOfStream, .failed: close(); return false
            }
        }
        if !upstream.input.isEmpty && transport.output.readableCount < ExchangeLimits.highWater {
            transport.output.append(upstream.input.readable)
            upstream.input.clear()
            progressed = true
        } else if upstream.input.isEmpty && upstream.readable && transport.output.readableCount < ExchangeLimits.highWater {
            if case .bytes = upstream.read() { responseProgressAt = worker.loop.now }
            progressed = true
        }
        progressed = flushClient() || progressed
        guard fd >= 0 else { return false }
        let clientDone = (transport.peerClosed || transport.broken) && transport.input.isEmpty && upstream.output.isEmpty
        let upstreamDone = upstream.endOfStream && upstream.input.isEmpty && transport.output.isEmpty
        if clientDone || upstreamDone {
            close()
            return false
        }
        return progressed
    }
}
