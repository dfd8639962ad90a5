import CShims
import Glibc

/// Thin wrappers over the socket system calls the loop needs.
public enum Socket {
    /// Result of a non-blocking read or write.
    public enum IOResult: Equatable {
        /// This many bytes moved (> 0).
        case bytes(Int)
        /// The socket has nothing more now (EAGAIN).
        case wouldBlock
        /// The peer closed its side (read returned 0).
        case endOfStream
        /// A hard error (`errno`).
        case failed(Int32)
    }

    /// A listening socket bound to `address`, non-blocking, with `SO_REUSEPORT` so every worker
    /// can bind its own.
    public static func listen(on address: SocketAddress, reusePort: Bool, backlog: Int32 = 4096) throws -> Int32 {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket for \(address)") }
        setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
        if reusePort { setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1) }
        let bound = address.withSockAddr { bind(fd, $0, $1) }
        guard bound == 0 else {
            let error = SystemError("bind \(address)")
            close(fd)
            throw error
        }
        guard Glibc.listen(fd, backlog) == 0 else {
            let error = SystemError("listen \(address)")
            close(fd)
            throw error
        }
        return fd
    }

    /// A second descriptor for the same socket (close-on-exec), for a worker of its own.
    public static func duplicate(_ fd: Int32) throws -> Int32 {
        let copy = fcntl(fd, F_DUPFD_CLOEXEC, 3)
        guard copy >= 0 else { throw SystemError("duplicate descriptor \(fd)") }
        return copy
    }

    /// Starts a non-blocking connect; the socket becomes writable when it completes.
    public static func connectNonBlocking(to address: SocketAddress) -> (fd: Int32, error: Int32) {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return (-1, errno) }
        setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        let result = address.withSockAddr { connect(fd, $0, $1) }
        if result == 0 || errno == EINPROGRESS { return (fd, 0) }
        let error = errno
        close(fd)
        return (-1, error)
    }

    /// The pending error of a socket (`SO_ERROR`), 0 if none: how a non-blocking connect ends.
    public static func pendingError(_ fd: Int32) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length)
        return value
    }

    /// Sets an integer socket option.
    public static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) {
        var value = value
        setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    /// The local address a socket is bound to.
    public static func localAddress(_ fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return result == 0 ? SocketAddress(storage: storage, length: length) : nil
    }

    /// Reads into the free tail of `buffer` (growing it to at least `minimumRoom` free bytes).
    @inline(__always)
    public static func read(_ fd: Int32, into buffer: ByteBuffer, minimumRoom: Int = 4096) -> (IOResult, asked: Int) {
        let destination = buffer.reserve(minimumRoom)
        let room = buffer.tailRoom
        var count = Glibc.read(fd, destination, room)
        // A signal is not "no data": on an edge-triggered socket, taking it for EAGAIN would
        // wait for an edge that already came.
        while count < 0 && errno == EINTR { count = Glibc.read(fd, destination, room) }
        if count > 0 {
            buffer.commit(count)
            return (.bytes(count), room)
        }
        if count == 0 { return (.endOfStream, room) }
        let error = errno
        if error == EAGAIN || error == EWOULDBLOCK { return (.wouldBlock, room) }
        return (.failed(error), room)
    }

    /// Writes as much of `buffer`'s unread bytes as the socket takes and consumes them.
    @inline(__always)
    public static func write(_ fd: Int32, from buffer: ByteBuffer) -> IOResult {
        var count = send(fd, buffer.readPointer, buffer.readableCount, Int32(MSG_NOSIGNAL))
        while count < 0 && errno == EINTR { count = send(fd, buffer.readPointer, buffer.readableCount, Int32(MSG_NOSIGNAL)) }
        if count > 0 {
            buffer.consume(count)
            return .bytes(count)
        }
        let error = errno
        if count < 0 && (error == EAGAIN || error == EWOULDBLOCK) { return .wouldBlock }
        return .failed(count == 0 ? EPIPE : error)
    }
}
