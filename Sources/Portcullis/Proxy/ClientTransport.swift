import CShims
import Glibc

/// The client's side of the wire, below HTTP: the TLS session on an HTTPS listener, the two
/// buffers (bytes read and not yet parsed, bytes to send), and what the socket last reported
/// (readiness, end of stream, hang-up). It reads and writes through TLS or the plain socket
/// alike and knows nothing of requests: the connection's codec consumes `input` and fills
/// `output`, so another codec (HTTP/2) would run on the same transport.
///
/// The descriptor itself is the connection's (`Selectable.fd`: the loop registers, watches and
/// closes it) and is passed in for each call. Readiness is edge-triggered: `readable` and
/// `writable` remember what epoll reported until a short read or a full send buffer says
/// otherwise.
final class ClientTransport {
    /// What one read did.
    enum ReadOutcome: Equatable {
        case bytes(Int)
        /// Not readable, or nothing was waiting.
        case nothing
        /// The client finished sending (`peerClosed` is now set).
        case endOfStream
        case failed
    }

    /// What one write did.
    enum WriteOutcome: Equatable {
        case wrote(Int)
        /// Nothing to send, or the socket was not writable.
        case nothing
        /// The send buffer is full: wait for the socket to turn writable.
        case blocked
        case failed
    }

    let input = ByteBuffer(capacity: 0)
    let output = ByteBuffer(capacity: 0)
    /// The TLS session on an HTTPS listener; nil for plain HTTP (and once closed).
    var tls: TLSSession?
    var readable = false
    var writable = true
    /// The client finished sending (EOF): serve what was received, then close.
    var peerClosed = false
    /// The socket reported an error or hang-up.
    var broken = false
    /// The client's FIN was reported: keep reading after short reads until the end of the stream.
    var pendingEndOfStream = false
    /// Bytes written to the client so far.
    var bytesFlushed: Int64 = 0
    /// Since when the client has taken none of the bytes waiting for it (`client_send_idle`);
    /// meaningful while `writable` is false.
    var sendBlockedSince: UInt64 = 0

    init(tls: TLSSession?) {
        self.tls = tls
    }

    /// Remembers what epoll reported for the socket.
    @inline(__always)
    func note(events: UInt32) {
        if events & EPOLLIN.rawValue != 0 { readable = true }
        if events & EPOLLOUT.rawValue != 0 { writable = true }
        if events & EPOLLRDHUP.rawValue != 0 {
            readable = true
            pendingEndOfStream = true
        }
        if events & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 {
            broken = true
            readable = true
            writable = true
        }
    }

    /// Reads into `input` when the socket is readable and the client has not finished. (The
    /// test is inlined into the caller: most calls find nothing to do.)
    @inline(__always)
    func read(from fd: Int32) -> ReadOutcome {
        guard readable, !peerClosed else { return .nothing }
        return readNow(from: fd)
    }

    private func readNow(from fd: Int32) -> ReadOutcome {
        let result: Socket.IOResult, drained: Bool
        if let tls {
            (result, drained) = tls.read(into: input)
        } else {
            let asked: Int
            (result, asked) = Socket.read(fd, into: input)
            if case .bytes(let count) = result { drained = count < asked } else { drained = true }
        }
        switch result {
        case .bytes(let count):
            // A short read emptied the socket, unless a FIN is still to be read.
            if drained && !pendingEndOfStream { readable = false }
            return .bytes(count)
        case .wouldBlock:
            readable = false
            return .nothing
        case .endOfStream:
            readable = false
            peerClosed = true
            return .endOfStream
        case .failed:
            return .failed
        }
    }

    /// Writes what `output` holds when the socket is writable (the test inlined, as above).
    @inline(__always)
    func write(to fd: Int32) -> WriteOutcome {
        guard writable, !output.isEmpty else { return .nothing }
        return writeNow(to: fd)
    }

    private func writeNow(to fd: Int32) -> WriteOutcome {
        switch tls?.write(from: output) ?? Socket.write(fd, from: output) {
        case .bytes(let count):
            bytesFlushed += Int64(count)
            return .wrote(count)
        case .wouldBlock:
            return .blocked
        case .endOfStream, .failed:
            return .failed
        }
    }

    /// The send buffer is full since `now` (kept if it already was).
    @inline(__always)
    func sendBlocked(now: UInt64) {
        if writable { sendBlockedSince = now }
        writable = false
    }

    /// Reads and throws away what the client still sends (lingering after our side shut);
    /// true while bytes keep coming, nil once the stream ended or failed.
    func discardIncoming(from fd: Int32) -> Bool? {
        input.clear()
        guard readable else { return false }
        let (result, _) = Socket.read(fd, into: input)
        input.clear()
        switch result {
        case .bytes: return true
        case .wouldBlock: readable = false; return false
        case .endOfStream, .failed: return nil
        }
    }

    /// Shuts the sending side: TLS `close_notify`, then the socket's FIN.
    func shutdownSending(_ fd: Int32) {
        tls?.shutdown()
        Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    /// Ends the TLS session (with a `close_notify` unless one was sent already).
    func endSession(notified: Bool) {
        guard let tls else { return }
        if !notified { tls.shutdown() }
        self.tls = nil
    }

    /// Takes storage for the input buffer from the worker's pool (a no-op while it has some).
    @inline(__always)
    func borrowInput(from pool: BufferPool) {
        input.borrowStorage(from: pool)
    }

    /// Takes storage for the output buffer, before anything is answered.
    @inline(__always)
    func borrowOutput(from pool: BufferPool) {
        output.borrowStorage(from: pool)
    }

    /// Gives both buffers' storage back: an idle connection holds no buffer memory.
    @inline(__always)
    func returnBuffers(to pool: BufferPool) {
        input.returnStorage(to: pool)
        output.returnStorage(to: pool)
    }
}
