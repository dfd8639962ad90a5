import Glibc
import Logging

/// What the gateway this process replaces handed over (`portcullis upgrade`): its listening
/// sockets by listener, the session-ticket key, the pushed ACME tokens. Read at start from the
/// channel named by `PORTCULLIS_UPGRADE_FD`; this process then says `ready` once it serves, or
/// `failed` and why, and the old gateway drains or keeps serving accordingly.
public final class UpgradeHandover {
    static let environmentVariable = "PORTCULLIS_UPGRADE_FD"
    /// How long the old gateway may take to send everything.
    private static let receiveTimeoutSeconds = 10

    private var channel: UpgradeChannel?
    private var sockets: [String: [Int32]] = [:]
    /// The ticket key in use and its age (ns), so rotation keeps its schedule.
    private(set) var ticketKey: [UInt8]?
    private(set) var ticketKeyAge: UInt64 = 0
    private(set) var challenges: [(token: String, keyAuthorization: String, remaining: UInt64)] = []
    private(set) var counters: [RateLimitTable.CarriedCounter] = []

    private init(fd: Int32) {
        channel = UpgradeChannel(fd: fd)
    }

    deinit {
        for fd in sockets.values.joined() { close(fd) }
        if let channel { close(channel.fd) }
    }

    /// Nil when this process was not started by an upgrade; else everything the old gateway
    /// sent, up to its `end`.
    public static func receive() throws(SystemError) -> UpgradeHandover? {
        guard let value = getenv(environmentVariable), let fd = Int32(String(cString: value)), fd >= 0 else { return nil }
        unsetenv(environmentVariable)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let handover = UpgradeHandover(fd: fd)
        let channel = UpgradeChannel(fd: fd)
        channel.setTimeouts(seconds: receiveTimeoutSeconds)
        while true {
            guard case .message(let message, let descriptors) = try channel.receive() else {
                throw SystemError("the gateway being replaced sent no complete handover", code: EPROTO)
            }
            switch message.kind {
            case .sockets:
                let keys = message.keys ?? []
                for (key, fd) in zip(keys, descriptors) { handover.sockets[key, default: []].append(fd) }
                for fd in descriptors.dropFirst(keys.count) { close(fd) }
            case .state:
                handover.ticketKey = message.ticketKey
                handover.ticketKeyAge = (message.ticketKeyAgeMilliseconds ?? 0) * 1_000_000
            case .challenge:
                if let token = message.token, let keyAuthorization = message.keyAuthorization, let remaining = message.remainingMilliseconds {
                    handover.challenges.append((token, keyAuthorization, remaining * 1_000_000))
                }
            case .counters:
                handover.counters += message.counters ?? []
            case .end:
                return handover
            case .ready, .failed:
                descriptors.forEach { close($0) }
            }
        }
    }

    /// The handed-over sockets of one listener (none when the old gateway had no such
    /// listener), each socket once: workers of the old process that shared one (it had fewer
    /// sockets than workers) sent it once per worker.
    func takeSockets(key: String) -> [Int32] {
        var seen = Set<UInt64>()
        return (sockets.removeValue(forKey: key) ?? []).filter { fd in
            var info = stat()
            if fstat(fd, &info) == 0 && !seen.insert(UInt64(info.st_ino)).inserted {
                close(fd)  // another descriptor of a socket already kept
                return false
            }
            return true
        }
    }

    /// Closes the sockets no listener took (the new configuration dropped or moved them).
    func closeUnused(log: Logger) {
        for (key, fds) in sockets {
            log.warning("upgrade: no listener is configured for \(key) any more; its socket is closed")
            fds.forEach { close($0) }
        }
        sockets.removeAll()
    }

    /// Tells the old gateway this process serves (it then drains) and closes the channel.
    func ready() {
        var message = UpgradeMessage(.ready)
        message.pid = getpid()
        finish(with: message)
    }

    /// Tells the old gateway this process cannot serve, and why (it keeps serving).
    public func fail(_ reason: String) {
        var message = UpgradeMessage(.failed)
        message.reason = reason
        finish(with: message)
    }

    private func finish(with message: UpgradeMessage) {
        guard let channel else { return }
        try? channel.send(message)
        close(channel.fd)
        self.channel = nil
    }
}
