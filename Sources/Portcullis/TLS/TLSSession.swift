import CShims
import COpenSSL
import Glibc

/// OpenSSL on a client connection's non-blocking socket (through `SocketBIO`, no memory BIOs):
/// the handshake, then reads and writes that report the same outcomes as plain sockets, with the
/// same meaning for edge-triggered readiness: a write stops only when the socket is full, and a
/// read reports `drained` only when the socket itself was emptied.
final class TLSSession {
    /// What a handshake step needs next.
    enum HandshakeStep {
        case done
        case wantRead
        case wantWrite
        case failed
    }

    private let ssl: OpaquePointer
    /// The socket under the session; kept alive as long as `ssl`, which points at it.
    private let socket: SocketBIO
    /// Kept alive for the servername callback, which points at it.
    private let store: CertificateStore
    /// A fatal error happened: no close_notify may be sent.
    private var fatal = false
    private var shutDown = false

    init?(fd: Int32, store: CertificateStore) {
        guard let socket = SocketBIO(fd: fd) else { return nil }
        guard let ssl = store.makeSession() else {
            BIO_free(socket.bio)
            return nil
        }
        socket.attach(to: ssl)
        self.ssl = ssl
        self.socket = socket
        self.store = store
    }

    deinit {
        SSL_free(ssl)
    }

    var handshakeTimeout: UInt64 { store.handshakeTimeout }

    /// Advances the handshake.
    func handshake() -> HandshakeStep {
        Self.clearErrorQueue()
        let result = SSL_do_handshake(ssl)
        if result == 1 { return .done }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        default:
            fatal = true
            return .failed
        }
    }

    /// Reads decrypted bytes into the free tail of `buffer`. `drained` is true when neither the
    /// socket nor OpenSSL's own buffer holds more (so edge-triggered readiness may be cleared):
    /// the length of one `SSL_read` (one record at most) does not tell.
    func read(into buffer: ByteBuffer) -> (result: Socket.IOResult, drained: Bool) {
        let destination = buffer.reserve(4096)
        var count = 0
        Self.clearErrorQueue()
        if SSL_read_ex(ssl, destination, buffer.tailRoom, &count) == 1 {
            buffer.commit(count)
            return (.bytes(count), socket.socketDrained && SSL_has_pending(ssl) == 0)
        }
        return (outcome(of: 0), true)
    }

    /// Writes `buffer` until it is empty or the socket is full, and consumes what was written.
    /// With partial writes on, one `SSL_write` sends about one record; stopping there would leave
    /// bytes behind on a socket with room, and the caller waiting for a writability edge that
    /// never comes.
    func write(from buffer: ByteBuffer) -> Socket.IOResult {
        var total = 0
        while !buffer.isEmpty {
            var count = 0
            Self.clearErrorQueue()
            guard SSL_write_ex(ssl, buffer.readPointer, buffer.readableCount, &count) == 1 else {
                let result = outcome(of: 0)
                if result == .wouldBlock && total > 0 { break }
                return result
            }
            buffer.consume(count)
            total += count
        }
        return .bytes(total)
    }

    /// Sends close_notify once, when the session is healthy (never after a fatal error).
    func shutdown() {
        guard !fatal, !shutDown, SSL_is_init_finished(ssl) == 1 else { return }
        shutDown = true
        Self.clearErrorQueue()
        _ = SSL_shutdown(ssl)
    }

    /// Empties this thread's OpenSSL error queue, which `SSL_get_error` reads after each call.
    /// `ERR_clear_error` wipes all 16 slots of the queue every time; it was 1.1 % of the
    /// gateway's CPU over TLS keep-alive, and the queue is almost always empty already.
    private static func clearErrorQueue() {
        if ERR_peek_error() != 0 { ERR_clear_error() }
    }

    private func outcome(of result: Int32) -> Socket.IOResult {
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return .wouldBlock
        case SSL_ERROR_ZERO_RETURN:
            return .endOfStream
        case SSL_ERROR_SYSCALL where errno == 0:
            fatal = true
            return .endOfStream
        default:
            fatal = true
            return .failed(EPROTO)
        }
    }
}
