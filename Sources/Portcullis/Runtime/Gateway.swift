import CShims
import Glibc
import Logging

/// The running gateway: the control thread (signals, reloads, the admin listener) and the
/// worker threads it starts. `run()` returns the process exit status.
public final class Gateway {
    private let configPath: String
    private var config: GatewayConfig
    private var generation = 1
    private var log: Logger
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
    private var blocklistSync: BlocklistSync?
    /// Audit events (set up in `run`).
    private(set) var audit: AuditLog?
    /// The access log (nil when off).
    private var accessLog: AccessLogWriter?
    /// The listener and admin addresses as the file gives them (port 0 allowed), to tell a
    /// reload that changes them from one that does not; `config` holds the ports actually bound.
    private var configuredListeners: [ListenerSettings]
    private var configuredAdmin: AdminSettings
    /// systemd's notification socket (nil when not started by systemd with `Type=notify`).
    private let systemd = SystemdNotifier()
    /// When the gateway started (monotonic ns), for its uptime.
    let startedAt = MonotonicClock.now()

    /// ACME tokens pushed through the admin API.
    var challenges: ChallengeStore { shared.challenges }

    public init(configPath: String, config: GatewayConfig) throws {
        self.configPath = configPath
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
        // On every way out, failed starts included: the loop's objects hold the loop.
        defer { loop.releaseAll() }
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
                do {
                    try self.applyBlocklist(changes, origin: "redis")
                } catch {
                    self.log.error("blocklist: a change from Redis could not be written to \(self.blocklist.path): \(error)")
                }
            }
        }
        let prune = config.blocklist.pruneInterval
        let blocklistPrune = Alarm(loop: loop, delay: prune, interval: prune) { [unowned self] in self.pruneBlocklist() }
        var activation = SocketActivation.inherited(log: log)
        let adminFD = try activation.take(boundTo: config.admin.address) ?? Socket.listen(on: config.admin.address, reusePort: false, backlog: 128)
        config.admin.address = Socket.localAddress(adminFD) ?? config.admin.address
        let admin = try AdminServer(fd: adminFD, loop: loop, token: token, gateway: self)
        let listenerSockets = try bindListeners(activation: &activation)
        try startWorkers(audit: auditLog, listenerSockets: listenerSockets)
        let rotation = config.tls.ticketKeyRotation
        let ticketRotation = Alarm(loop: loop, delay: rotation, interval: rotation) { [unowned self] in self.rotateTicketKey() }
        let expiryCheck = Alarm(loop: loop, delay: Self.expiryCheckInterval, interval: Self.expiryCheckInterval) { [unowned self] in
            if let certificates = self.certificates { self.warnAboutExpiry(certificates) }
        }
        // Tests and scripts that bind port 0 read the ports from this line.
        let perAddress = config.maxConnectionsPerIP == 0 ? "unlimited" : String(config.maxConnectionsPerIP)
        let raised = descriptors.after > descriptors.before ? " (raised from \(descriptors.before))" : ""
        log.info("file descriptors: \(descriptors.after)\(raised); max_connections \(config.effectiveMaxConnections), per address \(perAddress)")
        log.info("portcullis started: \(config.server.workers) worker(s), listening on \(listenerURLs.joined(separator: ", ")), admin on \(config.admin.address)")
        systemd?.ready(status: statusLine())
        let watchdog = systemd?.watchdogInterval.map { interval in
            Alarm(loop: loop, delay: interval, interval: interval) { [unowned self] in
                // A worker that ended on its own is a gateway systemd should restart.
                if self.draining || !self.threads.contains(where: \.hasFinished) { self.systemd?.watchdog() }
            }
        }
        loop.run()
        blocklistSync?.stop()
        audit?.stop()
        accessLog?.stop()
        for thread in threads { thread.join() }
        withExtendedLifetime((signals, admin, ticketRotation, expiryCheck, controlReceiver, blocklistPrune, watchdog)) {}
        log.info("portcullis stopped")
        return 0
    }

    /// Binds every listener once per worker (`SO_REUSEPORT`), or shares the socket systemd
    /// handed over for its address. A listener on port 0 gets a port from the kernel for the
    /// first worker and the others bind that same port; `config` then holds the bound
    /// addresses (for redirects and the startup line).
    private func bindListeners(activation: inout SocketActivation) throws -> [[(Int32, ListenerSettings)]] {
        let handedOver = config.listeners.map { activation.take(boundTo: $0.address) }
        activation.closeUnused(log: log)
        defer { for fd in handedOver.compactMap({ $0 }) { close(fd) } }
        for (listener, fd) in zip(config.listeners, handedOver) where fd != nil {
            log.info("\(listener.scheme.rawValue)://\(listener.address.text): socket from systemd")
        }
        var sockets: [[(Int32, ListenerSettings)]] = []
        for _ in 0..<config.server.workers {
            var workerSockets: [(Int32, ListenerSettings)] = []
            for index in config.listeners.indices {
                let fd = try handedOver[index].map { try Socket.duplicate($0) } ?? Socket.listen(on: config.listeners[index].address, reusePort: true)
                if config.listeners[index].address.port == 0, let bound = Socket.localAddress(fd) {
                    config.listeners[index].address = bound
                }
                workerSockets.append((fd, config.listeners[index]))
            }
            sockets.append(workerSockets)
        }
        return sockets
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
        default:
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
    private func statusLine() -> String {
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

    private func receive(_ message: ControlMessage) {
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

    private func beginDrain(loop: EventLoop) {
        guard !draining else { return }
        draining = true
        log.info("stopping: draining in-flight requests (up to \(config.timeouts.drain / 1_000_000_000)s)")
        systemd?.stopping(status: "draining in-flight requests")
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
