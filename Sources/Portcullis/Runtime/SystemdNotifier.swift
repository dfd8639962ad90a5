import Glibc

/// The systemd notification protocol (`sd_notify(3)`), without libsystemd: one datagram per
/// state change to the Unix socket named by `NOTIFY_SOCKET` (a path, or `@name` in the
/// abstract namespace). `READY=1` once the listeners are bound and the configuration applied,
/// `RELOADING=1` with `MONOTONIC_USEC` when a reload begins (then `READY=1`), `STOPPING=1` at
/// the drain, `STATUS=` a one-line summary, and `WATCHDOG=1` every half `WATCHDOG_USEC` while
/// every worker runs. Without `NOTIFY_SOCKET` (not started by systemd) it does nothing.
final class SystemdNotifier {
    private let fd: Int32
    private var address = sockaddr_un()
    private var addressLength: socklen_t = 0
    /// Half the watchdog interval systemd asks for (ns), nil without a watchdog.
    let watchdogInterval: UInt64?

    /// Reads the environment; nil when systemd is not listening.
    init?() {
        func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
        guard let path = environment("NOTIFY_SOCKET"), path.hasPrefix("/") || path.hasPrefix("@"),
              path.utf8.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes[0] == UInt8(ascii: "@") { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        addressLength = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + (bytes[0] == 0 ? 0 : 1))
        // WATCHDOG_PID, when set, names the process meant to ping.
        let forUs = environment("WATCHDOG_PID").map { Int32($0) == getpid() } ?? true
        watchdogInterval = environment("WATCHDOG_USEC").flatMap { UInt64($0) }.flatMap { forUs && $0 > 0 ? $0 * 1000 / 2 : nil }
    }

    deinit { close(fd) }

    func ready(status: String) { send("READY=1\nSTATUS=\(status)") }

    func reloading() { send("RELOADING=1\nMONOTONIC_USEC=\(MonotonicClock.now() / 1000)") }

    /// A binary upgrade: `pid` is the service's main process from now on, and it is ready.
    func mainProcess(_ pid: pid_t, status: String) { send("MAINPID=\(pid)\nREADY=1\nSTATUS=\(status)") }

    func stopping(status: String) { send("STOPPING=1\nSTATUS=\(status)") }

    func watchdog() { send("WATCHDOG=1") }

    /// Best effort, as `sd_notify` is: a full or missing socket changes nothing for the gateway.
    private func send(_ message: String) {
        let bytes = Array(message.utf8)
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL), $0, addressLength) }
        }
    }
}
