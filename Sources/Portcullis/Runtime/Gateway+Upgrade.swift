import Glibc

/// Zero-downtime binary upgrade (`portcullis upgrade`, `POST /admin/upgrade`, SIGUSR2): the
/// running gateway starts its binary again (the file now at its path: the new version), hands
/// it every worker's listening socket, the admin socket, the session-ticket key and the pushed
/// ACME tokens (`BinaryUpgrade`), and once the new process says it serves, tells systemd the
/// new main pid, closes its admin listener and drains. Connections waiting in the listen queues
/// are never refused: the sockets stay open in the new process. If the new binary fails or
/// hangs, it is stopped and this gateway keeps serving.
extension Gateway {
    /// What a successful upgrade reports.
    struct UpgradeReport {
        let pid: pid_t
        let binary: String
        let readyAfter: UInt64
    }

    /// Whether an upgrade is under way (blocklist changes wait until it has ended).
    var upgradeInProgress: Bool { upgrade != nil }

    /// Starts an upgrade; `completion` is called on the control loop with the outcome (at once
    /// when one cannot start).
    func startUpgrade(completion: @escaping (Result<UpgradeReport, BinaryUpgrade.Failure>) -> Void) {
        func refuse(_ reason: String) {
            log.error("upgrade refused: \(reason)")
            completion(.failure(BinaryUpgrade.Failure(description: reason)))
        }
        guard let loop = controlLoop else { return refuse("the gateway is not running") }
        guard upgrade == nil else { return refuse("an upgrade is already in progress") }
        guard !draining else { return refuse("this gateway is draining") }
        guard let binary = Self.executablePath() else { return refuse("cannot find this process' executable (/proc/self/exe)") }
        var sockets = listenerHandles
        if let adminServer { sockets.append((adminHandoverKey, adminServer.fd)) }
        log.notice("upgrade: starting \(binary) with \(sockets.count) socket(s)")
        do {
            let state = BinaryUpgrade.State(ticketKey: TicketKeyRing.shared.current(), challenges: challenges.pushedTokens(),
                                            counters: shared.rateLimitCounters.localCounters())
            upgrade = try BinaryUpgrade(loop: loop, binary: binary, arguments: Array(CommandLine.arguments.dropFirst()), sockets: sockets,
                                        state: state, timeout: config.timeouts.upgrade) { [unowned self] result in
                self.finishUpgrade(result, binary: binary, loop: loop, completion: completion)
            }
        } catch {
            refuse(error.description)
        }
    }

    private func finishUpgrade(_ result: Result<BinaryUpgrade.Success, BinaryUpgrade.Failure>, binary: String, loop: EventLoop,
                               completion: (Result<UpgradeReport, BinaryUpgrade.Failure>) -> Void) {
        upgrade = nil
        switch result {
        case .success(let started):
            let milliseconds = started.readyAfter / 1_000_000
            log.notice("upgrade: pid \(started.pid) (\(binary)) serves, ready after \(milliseconds) ms; this process (pid \(getpid())) drains")
            handedOver = true
            deferredBans.removeAll()
            systemd?.mainProcess(started.pid, status: "upgraded: pid \(started.pid) serves, pid \(getpid()) drains")
            if let adminServer { loop.deregisterAndClose(adminServer) }
            adminServer = nil
            blocklistSync?.stop()
            auditControl(.binaryUpgraded, details: [("outcome", .text("applied")), ("pid", .number(Int64(started.pid))),
                                                    ("previous_pid", .number(Int64(getpid()))), ("binary", .text(binary)),
                                                    ("ready_ms", .number(Int64(milliseconds)))])
            beginDrain(loop: loop, notifySystemd: false)
            completion(.success(UpgradeReport(pid: started.pid, binary: binary, readyAfter: started.readyAfter)))
        case .failure(let failure):
            log.error("upgrade failed, this process keeps serving: \(failure)")
            if !draining { systemd?.ready(status: "upgrade failed (see the log); " + statusLine()) }
            auditControl(.binaryUpgraded, details: [("outcome", .text("failed")), ("binary", .text(binary)), ("error", .text(failure.description))])
            let bans = deferredBans
            deferredBans.removeAll()
            for ban in bans { receive(ban) }
            completion(.failure(failure))
        }
    }

    /// Takes over what the gateway this process replaces handed over: the ticket key (tickets
    /// it issued resume here), the pushed ACME tokens with what was left of their TTL, and the
    /// local rate-limit counters (and auto-ban counts).
    func adoptHandedOverState() {
        guard let handover else { return }
        if let key = handover.ticketKey, !TicketKeyRing.shared.adopt(key, age: handover.ticketKeyAge) {
            log.warning("upgrade: the session-ticket key handed over has the wrong length; tickets issued before the upgrade get full handshakes")
        }
        for challenge in handover.challenges {
            challenges.put(token: challenge.token, keyAuthorization: challenge.keyAuthorization, ttl: challenge.remaining)
        }
        shared.rateLimitCounters.adopt(handover.counters)
        log.info("upgrade: took over the ticket key, \(handover.challenges.count) pushed ACME token(s) and \(handover.counters.count) local rate-limit counter(s)")
    }

    /// The admin listener's key in the handover (its address as configured).
    var adminHandoverKey: String { "admin \(configuredAdmin.address.text)" }

    /// Each listener's key in the handover: its scheme and address as configured (port 0
    /// included), numbered when several are alike, so a new process reading the same file finds
    /// its sockets even when the kernel chose the ports.
    static func handoverKeys(_ listeners: [ListenerSettings]) -> [String] {
        var seen: [String: Int] = [:]
        return listeners.map { listener in
            let key = "\(listener.scheme.rawValue)://\(listener.address.text)"
            let count = seen[key, default: 0]
            seen[key] = count + 1
            return count == 0 ? key : "\(key)#\(count)"
        }
    }

    /// The file this process runs: after a package upgrade replaced it, `/proc/self/exe` names
    /// the old, deleted inode ("… (deleted)") and the path is where the new binary now is.
    static func executablePath() -> String? {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = buffer.withUnsafeMutableBytes { readlink("/proc/self/exe", $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count - 1) }
        guard length > 0 else { return nil }
        let path = String(decoding: buffer[0..<length], as: UTF8.self)
        return path.hasSuffix(" (deleted)") ? String(path.dropLast(" (deleted)".count)) : path
    }
}
