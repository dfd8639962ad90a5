import Glibc
import Logging

/// Listening sockets handed over by systemd socket activation (`sd_listen_fds(3)`):
/// `LISTEN_FDS` descriptors from 3 on, meant for this process when `LISTEN_PID` is its pid. A
/// configured listener (or the admin listener) whose address is the one a handed-over socket
/// is bound to uses that socket instead of binding its own; the workers share it (one
/// duplicate each, made non-blocking: systemd's sockets are blocking unless `NonBlocking=yes`).
/// The variables are removed from the environment once read, as `sd_listen_fds` does.
struct SocketActivation {
    private var sockets: [(fd: Int32, address: SocketAddress)] = []

    /// The sockets systemd passed to this process; none when it passed none.
    static func inherited(log: Logger) -> SocketActivation {
        var activation = SocketActivation()
        defer { for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] { unsetenv(name) } }
        guard let pid = getenv("LISTEN_PID").flatMap({ Int32(String(cString: $0)) }), pid == getpid(),
              let count = getenv("LISTEN_FDS").flatMap({ Int32(String(cString: $0)) }), count > 0 else { return activation }
        for fd in 3..<(3 + count) {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            guard let address = Socket.localAddress(fd) else {
                log.warning("socket activation: descriptor \(fd) is not a socket; ignored")
                close(fd)
                continue
            }
            activation.sockets.append((fd, address))
        }
        return activation
    }

    /// Takes the handed-over socket bound to `address` (compared as the kernel spells it).
    mutating func take(boundTo address: SocketAddress) -> Int32? {
        let wanted = SocketAddress(storage: address.storage, length: address.length)
        guard let index = sockets.firstIndex(where: { $0.address == wanted }) else { return nil }
        return sockets.remove(at: index).fd
    }

    /// Closes the sockets no listener took, saying so.
    mutating func closeUnused(log: Logger) {
        for socket in sockets {
            log.warning("socket activation: no listener is configured for \(socket.address); its socket is closed")
            close(socket.fd)
        }
        sockets.removeAll()
    }
}
