import CShims
import Glibc
import Logging

/// The running gateway: the control thread (signals, reloads, the admin listener) and the
/// worker threads it starts. `run()` returns the process exit status.
public final class Gateway {
    private let configPath: String
    private(set) var config: GatewayConfig
    private var generation = 1
    private(set) var log: Logger
    private var mailboxes: [Mailbox<WorkerMessage>] = []
    private var threads: [WorkerThread] = []
    private(set) var metrics: [WorkerMetrics] = []
    private(set) var draining = false
    private var drainWatch: Alarm?
    /// The certificates now served (nil without HTTPS listeners).
    private(set) var certificates: CertificateStore?
    /// State shared by every snapshot and worker (ACME tokens, rate-limit counters, clock).
    let shared: GatewayShared
    /// The IP blocklist (loaded in `run`).
    private(set) var blocklist = BlocklistStore.inMemory
    private let control: Mailbox<ControlMessage>
    /// Blocklist sharing with other instances (nil without Redis).
    private(set) var blocklistSync: BlocklistSync?
    /// Audit events (set up in `run`).
    private(set) var audit: AuditLog?
    /// The access log (nil when off).
    private var accessLog: AccessLogWriter?
    /// The listener and admin addresses as the file gives them (port 0 allowed), to tell a
    /// reload that changes them from one that does not; `config` holds the ports actually bound.
    private(set) var configuredListeners: [ListenerSettings]
    private(set) var configuredAdmin: AdminSettings
    /// systemd's notification socket (nil when not started by systemd with `Type=notify`).
    let systemd = SystemdNotifier()
    /// When the gateway started (monotonic ns), for its uptime.
    let startedAt = MonotonicClock.now()
    /// What the gateway this process replaces handed over (nil unless started by an upgrade).
    let handover: UpgradeHandover?
    /// The control loop (set in `run`).
    private(set) var controlLoop: EventLoop?
    /// The admin listener (closed once a new binary has taken over).
    var adminServer: AdminServer?
    /// A copy of every worker's listening socket, by listener key, for a binary upgrade.
    var listenerHandles: [(key: String, fd: Int32)] = []
    /// The binary upgrade in progress (`Gateway+Upgrade`).
    var upgrade: BinaryUpgrade?
    /// A new binary serves: this process only drains, and no longer writes the blocklist.
    var handedOver = false
    /// Auto-bans asked for while an upgrade is in progress, applied if it fails.
    var deferredBans: [ControlMessage] = []

    /// ACME tokens pushed through the admin API.
    var challenges: ChallengeStore { shared.challenges }

    public init(configPath: String, config: GatewayConfig, handover: UpgradeHandover? = nil) throws {
        self.configPath = configPath
        self.handover = handover
        self.config = config
        configuredListeners = config.listeners
        configuredAdmin = config.admin
        shared = GatewayShared(maxRateLimitKeys: config.rateLimiting.maxKeys)
        control = try Mailbox<ControlMessage>()
        var logger = Logger(label: "portcullis")
        logger.logLevel = Logger.Level(rawValue: config.server.logLevel) ?? .info
        log = logger
    }

    /// What `portcullis check` would warn about, in the log.
    private func logWarnings(_ config: GatewayConfig) {
        for warning in config.warnings { log.warning("\(configPath): \(warning)") }
    }

    /// How long pushed ACME tokens are served.
    var acmeTokenTTL: UInt64 { config.acme.tokenTTL }

    /// `[admin]` as loaded (whether metrics need the token, the throttle's settings).
    var adminSettings: AdminSettings { config.admin }

    /// The configuration generation now served (1 at start, +1 per successful reload).
    var configGeneration: Int { generation }

    /// Starts the workers and serves until SIGTERM/SIGINT and the drain that follows.
    public func run() throws -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        let descriptors = DescriptorBudget.raiseToHardLimit()
        let loop = try EventLoop()
        controlLoop = loop
        // On every way out, failed starts included: the loop's objects hold the loop.
        defer { loop.releaseAll() }
        adoptHandedOverState()
        let signals = try SignalWatcher(loop: loop) { [unowned self] signal in self.handle(signal: signal, loop: loop) }
        let token = try AdminToken.load(settings: config.admin)
        logWarnings(config)
        let auditLog = try AuditLog(settings: config.audit, redisSettings: config.redis, workers: config.server.workers, clock: shared.clock,
                                    loop: loop, log: log)
        audit = auditLog
        if !config.accessLog.file.isEmpty {
            accessLog = try AccessLogWriter(settings: config.accessLog, workers: config.server.workers, loop: loop, log: log)
        }
        certificates = try loadCertificates(for: config)
        blocklist = try BlocklistStore(path: config.blocklist.file, optional: config.blocklist.optional)
        if !config.blocklist.file.isEmpty { log.info("blocklist \(config.blocklist.file): \(blocklist.count) entries") }
        let controlReceiver = try MailboxReceiver(control, loop: loop) { [unowned self] message in self.receive(message) }
        if config.redis.endpoint != nil {
            blocklistSync = BlocklistSync(settings: config.redis, loop: loop, log: log) { [unowned self] changes in
                guard !self.handedOver else { return }
                do {
                    try self.applyBlocklist(changes, origin: "redis")
                } catch {
                    self.log.error("blocklist: a change from Redis could not be written to \(self.blocklist.path): \(error)")
                }
            }
        }
        let prune = config.blocklist.pruneInterval
        let blocklistPrune = Alarm(loop: loop, delay: prune, interval: prune) { [unowned self] in self.pruneBlocklist() }
        let heapTrimmer = HeapTrimmer()
        let heapTrim = Alarm(loop: loop, delay: HeapTrimmer.interval, interval: HeapTrimmer.interval) { [unowned self] in
            self.trimHeap(heapTrimmer)
        }
        var activation = SocketActivation.inherited(log: log)
        let adminFD = try activation.take(boundTo: config.admin.address) ?? handover?.takeSockets(key: adminHandoverKey).first
            ?? Socket.listen(on: config.admin.address, reusePort: false, backlog: 128)
        config.admin.address = Socket.localAddress(adminFD) ?? config.admin.address
        adminServer = try AdminServer(fd: adminFD, loop: loop, token: token, gateway: self)
        let listenerSockets = try bindListeners(activation: &activation)
        try startWorkers(audit: auditLog, listenerSockets: listenerSockets)
        waitUntilWorkersListen()
        let rotation = config.tls.ticketKeyRotation
        let ticketAge = TicketKeyRing.shared.current().age
        let ticketRotation = Alarm(loop: loop, delay: rotation - min(rotation, ticketAge), interval: rotation) { [unowned self] in self.rotateTicketKey() }
        let expiryCheck = Alarm(loop: loop, delay: Self.expiryCheckInterval, interval: Self.expiryCheckInterval) { [unowned self] in
            if let certificates = self.certificates { self.warnAboutExpiry(certificates) }
        }
        // Tests and scripts that bind port 0 read the ports from this line.
        let perAddress = config.maxConnectionsPerIP == 0 ? "unlimited" : String(config.maxConnectionsPerIP)
        let raised = descriptors.after > descriptors.before ? " (raised from \(descriptors.before))" : ""
        log.info("file descriptors: \(descriptors.after)\(raised); max_connections \(config.effectiveMaxConnections), per address \(perAddress)")
        // Part of starting: "started" and readiness come once the start-up code is given back.
        releaseStartupPages()
        log.info("portcullis started: \(config.server.workers) worker(s), listening on \(listenerURLs.joined(separator: ", ")), admin on \(config.admin.address)")
        // Started by an upgrade, the old gateway tells systemd (it is the main process until then).
        if let handover { handover.ready() } else { systemd?.ready(status: statusLine()) }
        let watchdog = systemd?.watchdogInterval.map { interval in
            Alarm(loop: loop, delay: interval, interval: interval) { [unowned self] in
                // A worker that ended on its own is a gateway systemd should restart.
                if !self.handedOver && (self.draining || !self.threads.contains(where: \.hasFinished)) { self.systemd?.watchdog() }
            }
        }
        loop.run()
        blocklistSync?.stop()
        audit?.stop()
        accessLog?.stop()
        for thread in threads { thread.join() }
        withExtendedLifetime((signals, ticketRotation, expiryCheck, controlReceiver, blocklistPrune, heapTrim, watchdog)) {}
        log.info("portcullis stopped")
        return 0
    }

    /// Binds every listener once per worker (`SO_REUSEPORT`), or uses the sockets handed over
    /// for it: by systemd (one, shared by the workers) or by the gateway this process replaces
    /// (one per old worker: worker `w` takes those at `w`, `w + workers`, …, and shares one when
    /// there are fewer than workers, so no socket and no queued connection is dropped). A
    /// listener on port 0 gets a port from the kernel for the first worker and the others bind
    /// that same port; `config` then holds the bound addresses (for redirects and the startup
    /// line). A copy of every socket is kept for a later upgrade (`listenerHandles`).
    private func bindListeners(activation: inout SocketActivation) throws -> [[(Int32, ListenerSettings)]] {
        let keys = Self.handoverKeys(configuredListeners)
        let inherited: [[Int32]] = config.listeners.indices.map { index in
            if let fd = activation.take(boundTo: config.listeners[index].address) { return [fd] }
            return handover?.takeSockets(key: keys[index]) ?? []
        }
        activation.closeUnused(log: log)
        handover?.closeUnused(log: log)
        defer { for fd in inherited.joined() { close(fd) } }
        var sockets: [[(Int32, ListenerSettings)]] = []
        let workers = config.server.workers
        for worker in 0..<workers {
            var workerSockets: [(Int32, ListenerSettings)] = []
            for index in config.listeners.indices {
                let fds = inherited[index]
                let taken = worker < fds.count ? Array(stride(from: worker, to: fds.count, by: workers)) : fds.isEmpty ? [] : [worker % fds.count]
                var own = try taken.map { try Socket.duplicate(fds[$0]) }
                if own.isEmpty { own = [try Socket.listen(on: config.listeners[index].address, reusePort: true)] }
                if config.listeners[index].address.port == 0, let bound = Socket.localAddress(own[0]) {
                    config.listeners[index].address = bound
                }
                for fd in own {
                    workerSockets.append((fd, config.listeners[index]))
                    listenerHandles.append((keys[index], try Socket.duplicate(fd)))
                }
            }
            sockets.append(workerSockets)
        }
        for (listener, fds) in zip(config.listeners, inherited) where !fds.isEmpty {
            log.info("\(listener.scheme.rawValue)://\(listener.address.text): \(fds.count) socket(s) from \(handover == nil ? "systemd" : "the previous process")")
        }
        return sockets
    }

    /// Waits (10 s at most) until every worker has its listeners in its epoll set, so that
    /// ready means accepting: after an upgrade the old process stops accepting at once.
    private func waitUntilWorkersListen() {
        let deadline = MonotonicClock.now() + 10_000_000_000
        while shared.listeningWorkers.withLock({ $0 }) < threads.count && !threads.contains(where: \.hasFinished)
            && MonotonicClock.now() < deadline {
            usleep(1000)
        }
    }

    private func startWorkers(audit: AuditLog, listenerSockets sockets: [[(Int32, ListenerSettings)]]) throws {
        let snapshot = makeSnapshot()
        let blocklist = blocklist.current
        let shared = shared
        let control = control
        let auditQueues = audit.queues
        let accessQueues = accessLog?.queues
        let cpuCount = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        for index in 0..<config.server.workers {
            let mailbox = try Mailbox<WorkerMessage>()
            let workerMetrics = WorkerMetrics()
            let listenerSockets = sockets[index]
            let pin = config.server.pinWorkers
            let thread = try WorkerThread(name: "worker-\(index)") {
                if pin { _ = cshims_pin_thread_to_cpu(Int32(index % cpuCount)) }
                do {
                    let worker = try Worker(index: index, snapshot: snapshot, shared: shared, blocklist: blocklist,
                                            listenerSockets: listenerSockets, mailbox: mailbox, control: control,
                                            audit: auditQueues[index],
                                            accessLog: accessQueues?[index], metrics: workerMetrics)
                    worker.run()
                } catch {
                    Logger(label: "portcullis").critical("worker \(index) failed to start: \(error)")
                }
            }
            mailboxes.append(mailbox)
            metrics.append(workerMetrics)
            threads.append(thread)
        }
    }

    private func handle(signal: Int32, loop: EventLoop) {
        switch signal {
        case SIGHUP:
            reload()
        case SIGUSR2:
            startUpgrade { _ in }
        default:
            // Stopping wins over an upgrade under way: the new process must not outlive this one.
            upgrade?.cancel(reason: "the gateway was told to stop")
            beginDrain(loop: loop)
        }
    }

    /// Re-reads the configuration file and every certificate; if anything is wrong nothing
    /// changes and the reason is returned.
    @discardableResult
    func reload() -> Result<Int, ReloadFailure> {
        systemd?.reloading()
        let newConfig: GatewayConfig
        let newCertificates: CertificateStore?
        let newBlocklist: BlocklistStore
        do {
            newConfig = try ConfigLoader.load(path: configPath)
            newCertificates = try loadCertificates(for: newConfig)
            newBlocklist = try BlocklistStore(path: newConfig.blocklist.file, optional: newConfig.blocklist.optional)
        } catch {
            log.error("reload failed, keeping the running configuration and certificates:\n\(error)")
            auditControl(.configReloaded, details: [("outcome", .text("refused")), ("error", .text("\(error)"))])
            systemd?.ready(status: "reload refused (see the log); " + statusLine())
            return .failure(ReloadFailure(description: "\(error)"))
        }
        if newConfig.listeners != configuredListeners || newConfig.server.workers != config.server.workers || newConfig.admin != configuredAdmin
            || newConfig.rateLimiting.maxKeys != config.rateLimiting.maxKeys || newConfig.redis != config.redis
            || newConfig.audit != config.audit || newConfig.accessLog != config.accessLog {
            log.warning("listener, worker, admin, redis, audit, access_log and rate_limiting.max_keys changes take effect at the next restart")
        }
        var applied = newConfig
        applied.listeners = config.listeners
        applied.server.workers = config.server.workers
        applied.admin = config.admin
        applied.redis = config.redis
        applied.audit = config.audit
        applied.accessLog = config.accessLog
        config = applied
        certificates = newCertificates
        blocklist = newBlocklist
        generation += 1
        let snapshot = makeSnapshot()
        for mailbox in mailboxes { mailbox.post(.install(snapshot)) }
        publishBlocklist()
        releaseStartupPages()
        log.info("configuration reloaded (generation \(generation))")
        systemd?.ready(status: statusLine())
        logWarnings(applied)
        auditControl(.configReloaded, details: [("outcome", .text("applied")), ("generation", .number(Int64(generation)))])
        for context in newCertificates?.contexts ?? [] {
            auditControl(.certReloaded, details: [("names", .text(context.names.joined(separator: ","))), ("serial", .text(context.serial)),
                                                  ("not_after", .text(UTCTime.rfc3339(Int64(context.notAfter))))])
        }
        return .success(generation)
    }

    /// Loads the certificates an HTTPS listener needs (or the development certificate), with
    /// warnings for keys readable by others and certificates close to expiry.
    private func loadCertificates(for config: GatewayConfig) throws(TLSError) -> CertificateStore? {
        guard config.hasTLSListener else { return nil }
        var certificates = config.certificates
        if certificates.isEmpty && config.tls.selfSignedDev {
            let development = try DevCertificate.ensure(in: config.tls.devCertificateDirectory)
            log.warning("""
                !!! USING A SELF-SIGNED DEVELOPMENT CERTIFICATE for localhost (\(development.certificatePath)).
                !!! Browsers will warn and clients must skip verification (curl -k). Configure [[certificates]] for production.
                """)
            certificates = [development]
        }
        for certificate in certificates {
            var info = stat()
            if stat(certificate.keyPath, &info) == 0 && info.st_mode & 0o004 != 0 {
                log.warning("the private key \(certificate.keyPath) is readable by every user: chmod 600 it")
            }
        }
        let store = try CertificateStore(settings: config.tls, certificates: certificates)
        warnAboutExpiry(store, warningDays: config.tls.expiryWarningDays)
        log.info("loaded \(store.contexts.count) certificate(s): \(store.contexts.map { "\($0.names.joined(separator: ",")) serial \($0.serial)" }.joined(separator: "; "))")
        return store
    }

    /// A new session-ticket key: the certificate contexts are rebuilt with it and posted to the
    /// workers (the configuration itself does not change).
    private func rotateTicketKey() {
        guard config.hasTLSListener else { return }
        TicketKeyRing.shared.rotate()
        do {
            certificates = try loadCertificates(for: config)
        } catch {
            log.error("ticket key rotation: cannot rebuild the certificates, keeping the old key: \(error)")
            return
        }
        let snapshot = makeSnapshot()
        for mailbox in mailboxes { mailbox.post(.install(snapshot)) }
        log.info("session ticket key rotated")
    }

    /// What `GET /readyz` checks: listeners up (workers running, not draining), certificates
    /// loaded when an HTTPS listener needs them, and Redis reachable from every worker when the
    /// policy needs it (`on_redis_failure = "deny"`).
    func readiness() -> [String: Bool] {
        var checks = ["listeners": !threads.isEmpty && !draining && !threads.contains(where: \.hasFinished)]
        if config.hasTLSListener { checks["certificates"] = !(certificates?.contexts.isEmpty ?? true) }
        if config.redis.endpoint != nil && config.redis.onFailure == .deny {
            checks["redis"] = shared.redisHealth.readyConnections == config.server.workers
        }
        return checks
    }

    /// Records an audit event of the control thread.
    func auditControl(_ type: AuditEventType, clientIP: String? = nil, method: String? = nil, path: String? = nil,
                      details: [(String, AuditEvent.Value)]) {
        guard let audit else { return }
        var event = AuditEvent(type, milliseconds: audit.now(), clientIP: clientIP, details: details)
        event.method = method
        event.path = path
        audit.record(event)
    }

    /// The listeners as URLs (`https://0.0.0.0:443`), with the ports actually bound.
    var listenerURLs: [String] { config.listeners.map { "\($0.scheme.rawValue)://\($0.address.text)" } }

    /// `[redis]` as running (changes need a restart).
    var redisSettings: RedisSettings { config.redis }

    /// systemd's one-line `STATUS=`: what is served, from where.
    func statusLine() -> String {
        "serving generation \(generation) on \(listenerURLs.joined(separator: ", ")) with \(config.server.workers) worker(s)"
    }

    private func makeSnapshot() -> GatewaySnapshot {
        GatewaySnapshot(config: config, generation: generation, certificates: certificates, shared: shared)
    }

    // MARK: Blocklist

    /// Hands the current blocklist to every worker.
    func publishBlocklist() {
        let current = blocklist.current
        for mailbox in mailboxes { mailbox.post(.blocklist(current)) }
    }

    /// Applies a change made here (admin API, auto-ban): written to the file first (a write
    /// error changes nothing), handed to the workers, then stored in Redis and published to the
    /// other instances. False when a removed entry was not there.
    @discardableResult
    func changeBlocklist(_ change: BlocklistStore.Change, origin: String = "admin") throws(SystemError) -> Bool {
        if case .remove(let cidr) = change, blocklist.entry(for: cidr) == nil { return false }
        try applyBlocklist([change], origin: origin)
        blocklistSync?.publish(change)
        return true
    }

    /// Applies changes (from here or from another instance) and hands the result to the workers.
    private func applyBlocklist(_ changes: [BlocklistStore.Change], origin: String) throws(SystemError) {
        let effective = try blocklist.apply(changes)
        guard !effective.isEmpty else { return }
        for change in effective.prefix(20) {
            switch change {
            case .add(let entry):
                log.notice("blocklist (\(origin)): \(entry.allow ? "allow" : "block") \(entry.cidr)\(entry.reason.isEmpty ? "" : " (\(entry.reason))")")
                auditControl(.blocklistUpdated, details: [
                    ("action", .text(entry.allow ? "allow" : "block")), ("cidr", .text(entry.cidr.description)), ("origin", .text(origin)),
                    ("reason", .text(entry.reason)),
                    ("expires_at", .text(entry.expiresAt == 0 ? "never" : UTCTime.rfc3339(Int64(entry.expiresAt)))),
                ])
            case .remove(let cidr):
                log.notice("blocklist (\(origin)): \(cidr) removed")
                auditControl(.blocklistUpdated, details: [("action", .text("remove")), ("cidr", .text(cidr.description)), ("origin", .text(origin))])
            }
        }
        if effective.count > 20 {
            log.notice("blocklist (\(origin)): \(effective.count - 20) more changes")
            auditControl(.blocklistUpdated, details: [("action", .text("bulk")), ("changes", .number(Int64(effective.count - 20))), ("origin", .text(origin))])
        }
        publishBlocklist()
    }

    func receive(_ message: ControlMessage) {
        // The new binary loaded the file already: a change written now would be lost to it.
        guard upgrade == nil && !handedOver else {
            if !handedOver { deferredBans.append(message) }
            return
        }
        switch message {
        case .ban(let address, let reason):
            let cidr = CIDR(address: address, length: 128)
            let now = IPBlocklist.now()
            if let existing = blocklist.entry(for: cidr), existing.expiresAt == 0 || existing.expiresAt > now { return }
            let seconds = config.rateLimiting.autoBanDuration / 1_000_000_000
            let entry = BlocklistEntry(cidr: cidr, allow: false, expiresAt: now + UInt32(clamping: seconds), reason: reason)
            do {
                try changeBlocklist(.add(entry), origin: "auto-ban")
            } catch {
                log.error("auto-ban of \(cidr) not saved: \(error)")
            }
        }
    }

    /// Removes expired entries from memory and the file, like any other change.
    private func pruneBlocklist() {
        guard upgrade == nil && !handedOver else { return }
        let expired = blocklist.expired(at: IPBlocklist.now())
        guard !expired.isEmpty else { return }
        do {
            try applyBlocklist(expired.map { .remove($0) }, origin: "expiry")
        } catch {
            log.error("blocklist: cannot write \(blocklist.path) after removing expired entries: \(error)")
        }
    }

    private static let expiryCheckInterval: UInt64 = 6 * 3_600_000_000_000

    /// Logs a warning for every certificate with fewer than `expiry_warning_days` left.
    private func warnAboutExpiry(_ store: CertificateStore, warningDays: Int? = nil) {
        let now = Int(time(nil))
        for context in store.contexts {
            let daysLeft = (context.notAfter - now) / 86_400
            if daysLeft < warningDays ?? config.tls.expiryWarningDays {
                log.warning("certificate \(context.certificatePath) (\(context.names.joined(separator: ", "))) expires in \(daysLeft) day(s)")
                auditControl(.certExpiring, details: [("names", .text(context.names.joined(separator: ","))), ("serial", .text(context.serial)),
                                                      ("days_left", .number(Int64(daysLeft))), ("certificate", .text(context.certificatePath))])
            }
        }
    }

    /// Stops accepting (the workers close their listeners) and stops the loop once every
    /// worker has finished its in-flight requests. After an upgrade systemd is not told: the new
    /// process is the service now.
    func beginDrain(loop: EventLoop, notifySystemd: Bool = true) {
        guard !draining else { return }
        draining = true
        log.info("stopping: draining in-flight requests (up to \(config.timeouts.drain / 1_000_000_000)s)")
        if notifySystemd { systemd?.stopping(status: "draining in-flight requests") }
        for handle in listenerHandles { close(handle.fd) }
        listenerHandles.removeAll()
        for mailbox in mailboxes { mailbox.post(.drain) }
        drainWatch = Alarm(loop: loop, delay: 10_000_000, interval: 10_000_000) { [unowned self] in
            if self.threads.allSatisfy(\.hasFinished) { loop.stop() }
        }
    }
}

/// Why a reload was refused (configuration or certificate problems), for logs and the admin API.
struct ReloadFailure: Error, CustomStringConvertible {
    let description: String
}
