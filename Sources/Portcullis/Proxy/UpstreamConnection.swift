import CShims
import Glibc

/// A TCP connection from a worker to an upstream server. While serving a request it belongs to
/// one exchange's client (`ExchangeClient`, a `ClientConnection` today), which it notifies of
/// every event; between requests it waits in its
/// server's idle list, where any event (the upstream closing it) or its idle deadline ends it.
final class UpstreamConnection: Selectable {
    let server: UpstreamServer
    /// The owning worker, which outlives every connection it opens (held strongly, as
    /// `ClientConnection.worker` is, for the same reason).
    private let worker: Worker
    /// The client whose exchange uses it, nil while idle.
    var owner: (any ExchangeClient)?
    let input = ByteBuffer(capacity: 0)
    let output = ByteBuffer(capacity: 0)
    /// True until the non-blocking connect has completed.
    private(set) var connecting = true
    /// Edge-triggered readiness, cleared when a read or write would block.
    var readable = false
    var writable = false
    /// A read found the end of the stream (or failed): nothing more will arrive.
    var endOfStream = false
    /// The peer's FIN (or an error) was reported: keep reading until the end of the stream even
    /// after a short read, since no further edge will come.
    private var pendingEndOfStream = false
    /// Taken from the idle pool rather than freshly connected.
    var reused = false

    init(fd: Int32, server: UpstreamServer, worker: Worker) {
        self.server = server
        self.worker = worker
        input.borrowStorage(from: worker.buffers)
        output.borrowStorage(from: worker.buffers)
        super.init(fd: fd)
    }

    override func handleEvents(_ events: UInt32) {
        if events & EPOLLIN.rawValue != 0 { readable = true }
        if events & EPOLLOUT.rawValue != 0 { writable = true }
        if events & (EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 {
            // Let the next read or write find out what happened.
            pendingEndOfStream = true
            readable = true
            writable = true
        }
        if let owner {
            owner.drive()
        } else {
            // Idle: the upstream closed it, or sent bytes nobody asked for. Either way it is done.
            server.remove(self)
            close()
        }
    }

    override func deadlineReached() {
        guard owner == nil else { return }
        server.remove(self)
        close()
    }

    /// Completes a non-blocking connect once the socket is writable; returns the error, or 0.
    func finishConnect() -> Int32 {
        let error = Socket.pendingError(fd)
        if error == 0 {
            connecting = false
            worker.loop.setInterest(EventLoop.connectionEvents, for: self)
        }
        return error
    }

    /// Reads what the upstream sent into `input`.
    @inline(__always)
    func read() -> Socket.IOResult {
        let (result, asked) = Socket.read(fd, into: input)
        switch result {
        case .bytes(let count): if count < asked && !pendingEndOfStream { readable = false }
        case .wouldBlock: readable = false
        case .endOfStream, .failed: readable = false; endOfStream = true
        }
        return result
    }

    /// Writes pending `output`.
    @inline(__always)
    func flush() -> Socket.IOResult {
        let result = Socket.write(fd, from: output)
        switch result {
        case .bytes:
            if output.isEmpty {
                worker.loop.setInterest(EventLoop.connectionEvents, for: self)
            } else {
                waitForWritable()
            }
        case .wouldBlock: waitForWritable()
        default: break
        }
        return result
    }

    /// The send buffer is full: ask the loop to report when it drains.
    private func waitForWritable() {
        writable = false
        worker.loop.setInterest(EventLoop.connectionEventsWithWrite, for: self)
    }

    /// Parks the connection in its server's idle list (or closes it when the list is full).
    func release(to pool: UpstreamPool, now: UInt64) {
        owner = nil
        reused = true
        input.clear()
        output.clear()
        if server.park(self, limit: pool.settings.keepAlive) {
            worker.loop.setDeadline(now + pool.settings.idleTimeout, for: self)
        } else {
            close()
        }
    }

    /// Closes the socket and returns the buffers to the worker's pool.
    func close() {
        guard fd >= 0 else { return }
        owner = nil
        worker.loop.deregisterAndClose(self)
        input.returnStorage(to: worker.buffers)
        output.returnStorage(to: worker.buffers)
    }
}
