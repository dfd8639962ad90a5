import CShims
import Glibc

/// A worker's own listening socket (`SO_REUSEPORT`): accepts connections and hands each to a
/// new `ClientConnection` on the same worker.
///
/// One connection is taken in per wakeup (the listener is level-triggered: the next one is
/// reported on the next turn of the loop), like nginx without `multi_accept`: the events of
/// connections already open are handled between two new TLS handshakes, each of which costs
/// a signature and a key exchange, instead of waiting behind a burst of them. Measured with
/// `bench/run.sh` (50 clients, a new TLS connection per request, the old and the new binary
/// alternating): p99 2.1–2.3× nginx's → 1.07×, handshakes per second not lower (README,
/// "New connections wait their turn"). Connections refused at once (a blocked
/// address, the per-address limit) do not count, up to `maxAcceptsPerWakeup` accepts; after a
/// descriptor shortage the backlog is drained in such bursts, which tells when it is over.
final class Listener: Selectable {
    private unowned(unsafe) let worker: Worker
    let settings: ListenerSettings
    private let portText: [UInt8]
    private let localHost: [UInt8]
    private static let maxAcceptsPerWakeup = 64

    init(fd: Int32, settings: ListenerSettings, worker: Worker) {
        self.worker = worker
        self.settings = settings
        let port = Socket.localAddress(fd)?.port ?? settings.address.port
        portText = Array(String(port).utf8)
        localHost = Array(settings.address.text.utf8)
        super.init(fd: fd)
    }

    override func handleEvents(_ events: UInt32) {
        var storage = sockaddr_storage()
        for _ in 0..<Self.maxAcceptsPerWakeup {
            if worker.atConnectionLimit(self) { return }
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let clientFD = withUnsafeMutablePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { cshims_accept_nonblocking(fd, $0, &length) }
            }
            guard clientFD >= 0 else {
                let error = errno
                if error == EAGAIN || error == EWOULDBLOCK {
                    worker.acceptBacklogDrained()
                    return
                }
                if error == EINTR || error == ECONNABORTED { continue }
                if !worker.acceptFailed(error, on: self) {
                    worker.log.warning("accept: \(String(cString: strerror(error)))")
                }
                return
            }
            // Phase 1 of the request path: a blocked address is closed before anything else.
            let peer = IPAddress(storage: storage) ?? IPAddress(high: 0, low: 0)
            if worker.blocklist.blocks(peer, now: worker.epochSeconds) {
                worker.metrics.blockedConnections.add(1)
                worker.audit(AuditEvent(.ipBlocked, milliseconds: worker.epochMilliseconds, clientIP: SocketAddress.ipText(storage),
                                        details: [("stage", .text("connection"))]))
                close(clientFD)
                continue
            }
            let perAddressLimit = worker.snapshot.config.maxConnectionsPerIP
            let countedPerAddress = perAddressLimit > 0 && !worker.blocklist.allows(peer, now: worker.epochSeconds)
            if countedPerAddress && !worker.shared.connectionsPerAddress.open(peer, limit: perAddressLimit) {
                refuseOverAddressLimit(clientFD, storage: storage, limit: perAddressLimit)
                continue
            }
            Socket.setOption(clientFD, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
            let peerIP = Array(SocketAddress.ipText(storage).utf8)
            let connection: ClientConnection
            if settings.scheme == .https {
                guard let store = worker.snapshot.certificates, let session = TLSSession(fd: clientFD, store: store) else {
                    if countedPerAddress { worker.shared.connectionsPerAddress.close(peer) }
                    close(clientFD)
                    continue
                }
                connection = ClientConnection(fd: clientFD, worker: worker,
                                              forwarding: ForwardingContext(peerIP: peerIP, scheme: "https", port: portText),
                                              localHost: localHost, peerAddress: peer, countedPerAddress: countedPerAddress, tls: session)
            } else {
                connection = ClientConnection(fd: clientFD, worker: worker,
                                              forwarding: ForwardingContext(peerIP: peerIP, scheme: "http", port: portText),
                                              localHost: localHost, peerAddress: peer, countedPerAddress: countedPerAddress, tls: nil)
            }
            worker.connectionOpened(connection)
            // After a descriptor shortage, on until the backlog is drained: that ends the episode.
            if !worker.acceptPause.inShortage { return }
        }
    }

    /// The address already has `max_connections_per_ip` open: closed at once, audited, counted.
    private func refuseOverAddressLimit(_ clientFD: Int32, storage: sockaddr_storage, limit: Int) {
        worker.metrics.connectionsOverAddressLimit.add(1)
        worker.audit(AuditEvent(.connectionLimit, milliseconds: worker.epochMilliseconds, clientIP: SocketAddress.ipText(storage),
                                details: [("limit", .text("max_connections_per_ip")), ("value", .number(Int64(limit)))]))
        close(clientFD)
    }

    /// The retry time of a pause for lack of descriptors (`Worker+AcceptPause`).
    override func deadlineReached() {
        worker.resumeAccepting()
    }
}
