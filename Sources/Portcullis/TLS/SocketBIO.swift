import COpenSSL
import Glibc

/// The BIO under a TLS session: `read(2)` and `send(2)` on the non-blocking socket, exactly
/// what OpenSSL's own socket BIO does, plus one fact OpenSSL cannot tell us: whether the last
/// `read(2)` emptied the socket.
///
/// That fact is what edge-triggered readiness needs. `SSL_read` hands out one record at a time,
/// so a short `SSL_read` says nothing about the socket: with read-ahead, OpenSSL may have pulled
/// in only the first 16 KB of a large upload and the rest still waits in the kernel. Clearing
/// readiness then stalls the connection until a timeout, since no new edge will come. A socket
/// read that returned fewer bytes than asked (or EAGAIN) did empty the socket at that moment, and
/// anything arriving later raises a new edge.
final class SocketBIO {
    /// The descriptor; reads and writes go straight to it.
    let fd: Int32
    /// The last `read(2)` returned fewer bytes than asked, EAGAIN or end of stream: the socket
    /// held nothing more at that moment. False until the first read.
    private(set) var socketDrained = false
    /// The `BIO` handed to OpenSSL (owned by the `SSL` it is attached to).
    let bio: OpaquePointer

    /// A BIO over `fd`; nil when OpenSSL cannot allocate one.
    init?(fd: Int32) {
        guard let method = Self.method, let bio = BIO_new(method) else { return nil }
        self.fd = fd
        self.bio = bio
        BIO_set_data(bio, Unmanaged.passUnretained(self).toOpaque())
        BIO_set_init(bio, 1)
    }

    /// Attaches the BIO to `ssl` for both directions; the `SSL` frees it. `self` must outlive `ssl`.
    func attach(to ssl: OpaquePointer) {
        SSL_set_bio(ssl, bio, bio)
    }

    /// Runs `body` on the `SocketBIO` behind `bio`, or returns 0 (failure) when it has none.
    /// No retain and release around each call: the connection owns both this object and the
    /// `SSL` that calls in, so it is alive for every call.
    private static func withState(_ bio: OpaquePointer?, _ body: (SocketBIO) -> Int32) -> Int32 {
        guard let bio, let data = BIO_get_data(bio) else { return 0 }
        return Unmanaged<SocketBIO>.fromOpaque(data)._withUnsafeGuaranteedRef(body)
    }

    private static let retryFlags = Int32(BIO_FLAGS_READ | BIO_FLAGS_WRITE | BIO_FLAGS_IO_SPECIAL | BIO_FLAGS_SHOULD_RETRY)

    /// One method table for the whole process.
    nonisolated(unsafe) private static let method: OpaquePointer? = {
        guard let method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "portcullis socket") else {
            return nil
        }
        _ = BIO_meth_set_read_ex(method) { bio, destination, length, readBytes in SocketBIO.withState(bio) { state in
            guard let destination else { return 0 }
            BIO_clear_flags(bio, SocketBIO.retryFlags)
            var count = Glibc.read(state.fd, destination, length)
            while count < 0 && errno == EINTR { count = Glibc.read(state.fd, destination, length) }
            if count > 0 {
                state.socketDrained = count < length
                readBytes?.pointee = count
                return 1
            }
            state.socketDrained = true
            if count == 0 {
                // Lets OpenSSL tell an end of stream from an error (BIO_CTRL_EOF below).
                BIO_set_flags(bio, Int32(BIO_FLAGS_IN_EOF))
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                BIO_set_flags(bio, Int32(BIO_FLAGS_READ | BIO_FLAGS_SHOULD_RETRY))
            }
            readBytes?.pointee = 0
            return 0
        } }
        _ = BIO_meth_set_write_ex(method) { bio, source, length, written in SocketBIO.withState(bio) { state in
            guard let source else { return 0 }
            BIO_clear_flags(bio, SocketBIO.retryFlags)
            var count = send(state.fd, source, length, Int32(MSG_NOSIGNAL))
            while count < 0 && errno == EINTR { count = send(state.fd, source, length, Int32(MSG_NOSIGNAL)) }
            if count > 0 {
                written?.pointee = count
                return 1
            }
            if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                BIO_set_flags(bio, Int32(BIO_FLAGS_WRITE | BIO_FLAGS_SHOULD_RETRY))
            }
            written?.pointee = 0
            return 0
        } }
        _ = BIO_meth_set_ctrl(method) { bio, command, _, _ in
            // Nothing is buffered here, so a flush always succeeds; the end of stream is what the
            // last read saw; every other control is unsupported, as on OpenSSL's socket BIO.
            switch command {
            case BIO_CTRL_FLUSH: return 1
            case BIO_CTRL_EOF: return BIO_test_flags(bio, Int32(BIO_FLAGS_IN_EOF)) != 0 ? 1 : 0
            default: return 0
            }
        }
        return method
    }()
}
