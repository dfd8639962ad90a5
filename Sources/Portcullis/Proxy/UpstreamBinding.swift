/// An exchange's hold on an upstream: the route's pool, the server of the last attempt and the
/// connection to it, the request head as forwarded (kept until the response begins, so another
/// attempt can resend it) and the attempts made. It picks, connects, hands connections back to
/// their server's idle list, closes and blames; the exchange decides when
/// (`ProxyExchange+Proxying`, `ProxyExchange+Failure`). Nothing in it depends on the
/// client's codec.
///
/// One per client connection; `bind(to:)` starts it afresh for a request, `unbind` ends it. The
/// head buffer holds storage from the worker's pool only while bound.
final class UpstreamBinding {
    /// The upstream pool of the request's route (nil between exchanges).
    private(set) var pool: UpstreamPool?
    /// The server of the last attempt, kept after the exchange ends for its audit event.
    private(set) var server: UpstreamServer?
    /// The connection of the current attempt.
    private(set) var connection: UpstreamConnection?
    /// Attempts made for this request.
    private(set) var attempts = 0
    /// The head sent upstream, written by `RequestHeadWriter` after `bind(to:)`.
    let forwardedHead = ByteBuffer(capacity: 0)
    /// The worker's buffer pool, which lends `forwardedHead` its storage.
    private let buffers: BufferPool

    init(buffers: BufferPool) {
        self.buffers = buffers
    }

    /// Starts the binding of a new request to `pool`; its head is written into the emptied
    /// `forwardedHead` next.
    @inline(__always)
    func bind(to pool: UpstreamPool) {
        self.pool = pool
        server = nil
        attempts = 0
        forwardedHead.clear()
        forwardedHead.borrowStorage(from: buffers)
    }

    /// Attaches a connection for the next attempt, owned by `owner`, with the forwarded head
    /// queued on it: an idle connection to the next available server (after the one tried
    /// last), or a new one, connecting; with `fresh`, a new connection to any available server.
    /// Returns the failure when there is none to attach.
    func attach(fresh: Bool, for owner: some ExchangeClient, worker: Worker) -> ExchangeFailure? {
        guard let pool else { preconditionFailure("attach before bind(to:)") }
        attempts += 1
        guard let server = pool.pick(now: worker.loop.now, excluding: fresh ? nil : server) else { return .noLiveServer }
        self.server = server
        let connection: UpstreamConnection
        if !fresh, let idle = server.takeIdle() {
            connection = idle
        } else {
            let (fd, error) = Socket.connectNonBlocking(to: server.address)
            guard fd >= 0 else {
                worker.log.warning("connect to \(server.address) failed: \(SystemError("connect", code: error))")
                return .connectFailed
            }
            connection = UpstreamConnection(fd: fd, server: server, worker: worker)
            do {
                try worker.loop.register(connection, events: EventLoop.connectionEventsWithWrite)
            } catch {
                connection.close()
                return .connectFailed
            }
        }
        connection.owner = owner
        connection.output.append(forwardedHead.readable)
        self.connection = connection
        return nil
    }

    /// The upstream's final response began: the server answered, and no attempt follows.
    @inline(__always)
    func responseBegan() {
        forwardedHead.clear()
        server?.recordSuccess()
    }

    /// Ends the current attempt after `failure`: its connection is closed (never pooled with
    /// half an exchange in it) and its server blamed where `failure` says that is fair.
    func abandonAttempt(after failure: ExchangeFailure, now: UInt64) {
        if let connection {
            connection.close()
            self.connection = nil
        }
        if failure.blamesServer, let server, let pool { server.recordFailure(now: now, policy: pool.settings) }
    }

    /// The attempt that may follow `failure` for this request (`ExchangeFailure.retry`).
    func retry(after failure: ExchangeFailure, method: HTTPMethod, framing: BodyFraming, bodyForwarded: Bool) -> ExchangeFailure.Retry? {
        guard let pool else { return nil }
        return failure.retry(attempts: attempts, servers: pool.servers.count, method: method, framing: framing, bodyForwarded: bodyForwarded)
    }

    /// Ends the exchange's binding, and gives the head buffer's storage back. With `reuse`, the
    /// connection goes back to its server's idle list if it is clean (nothing unread, not closed
    /// by the upstream); otherwise it is closed.
    @inline(__always)
    func unbind(reuse: Bool, now: UInt64) {
        forwardedHead.returnStorage(to: buffers)
        if let connection {
            self.connection = nil
            if reuse && connection.input.isEmpty && !connection.endOfStream, let pool {
                connection.release(to: pool, now: now)
            } else {
                connection.close()
            }
        }
        pool = nil
    }
}
