import CShims
import Glibc
import Logging

/// Messages the control thread posts to a worker.
enum WorkerMessage: Sendable {
    /// Serve new requests under this snapshot.
    case install(GatewaySnapshot)
    /// Stop accepting, finish in-flight requests within the drain timeout, then exit.
    case drain
    /// The blocklist changed.
    case blocklist(IPBlocklist)
}

/// Messages workers post to the control thread.
enum ControlMessage: Sendable {
    /// Auto-ban: this client passed the rate-limit rejection threshold.
    case ban(IPAddress, reason: String)
}

/// One worker thread: its own epoll loop, listening sockets, connections, upstream pools and
/// buffers. Nothing here is shared with other workers, so nothing here is locked.
final class Worker {
    let index: Int
    let loop: EventLoop
    let mailbox: Mailbox<WorkerMessage>
    let metrics: WorkerMetrics
    let buffers = BufferPool()
    let requestIDs = RequestIDGenerator()
    let gzipStreams = GzipStreamPool()
    let log: Logger
    let shared: GatewayShared
    private let control: Mailbox<ControlMessage>
    /// Where this worker's audit events wait for the control thread.
    let auditQueue: AuditQueue
    /// Where access-log records wait (nil when the access log is off).
    let accessQueue: BoundedQueue<AccessRecord>?
    private(set) var snapshot: GatewaySnapshot
    private(set) var blocklist: IPBlocklist
    /// Scratch bytes for rate-limit counter names (one request at a time on a worker).
    var rateLimitScratch: [UInt8]
    /// The matching form of the path being decided, when it differs from the path as sent
    /// (`PathNormalizer`); reused by every request of the worker.
    let matchingPath = ByteBuffer(capacity: 1024)
    /// The `Date` line of responses, formatted once a second.
    let dateField = DateField()
    /// Bytes this worker's buffered request bodies hold (`BodyLimits`).
    var requestBuffers = RequestBufferBudget()
    /// Upstream pools of the current snapshot, in the order of `snapshot.config.upstreams`.
    private(set) var pools: [UpstreamPool] = []
    private var servers: [String: UpstreamServer] = [:]
    private(set) var listeners: [Listener] = []
    private var connections: [ObjectIdentifier: ClientConnection] = [:]
    /// Accepting paused for lack of descriptors (`Worker+AcceptPause`).
    var acceptPause = AcceptPause()
    private(set) var draining = false
    /// Set a moment after the drain begins (`idleGrace`): idle keep-alive connections close.
    private(set) var closingIdleConnections = false
    private var drainAlarm: Alarm?
    private var idleGraceAlarm: Alarm?
    /// How long idle keep-alive connections stay open once draining: a client busy on one sends
    /// its next request within it and gets the answer with `Connection: close`, instead of
    /// racing a close (it would have to retry). Clients idle longer lose only that race.
    static let idleGrace: UInt64 = 1_000_000_000
    private var mailboxReceiver: MailboxReceiver<WorkerMessage>?

    init(index: Int, snapshot: GatewaySnapshot, shared: GatewayShared, blocklist: IPBlocklist, listenerSockets: [(Int32, ListenerSettings)],
         mailbox: Mailbox<WorkerMessage>, control: Mailbox<ControlMessage>, audit: AuditQueue, accessLog: BoundedQueue<AccessRecord>?,
         metrics: WorkerMetrics) throws {
        auditQueue = audit
        accessQueue = accessLog
        self.index = index
        self.snapshot = snapshot
        self.shared = shared
        self.blocklist = blocklist
        self.control = control
        // Reserved through a local: growing the property in place would make every later access
        // to it pay the runtime's exclusivity check (`MovableOut`).
        var scratch: [UInt8] = []
        scratch.reserveCapacity(512)
        rateLimitScratch = scratch
        self.mailbox = mailbox
        self.metrics = metrics
        var logger = Logger(label: "portcullis.worker.\(index)")
        logger.logLevel = Logger.Level(rawValue: snapshot.config.server.logLevel) ?? .info
        log = logger
        loop = try EventLoop()
        loop.busyPoll = snapshot.config.server.busyPoll
        listeners = listenerSockets.map { Listener(fd: $0.0, settings: $0.1, worker: self) }
        buildPools()
    }

    /// The thread body: runs the loop until the drain completes.
    func run() {
        defer {
            loop.releaseAll()
            releaseConnections()
        }
        do {
            for listener in listeners { try loop.register(listener, events: EventLoop.readEvents) }
            mailboxReceiver = try MailboxReceiver(mailbox, loop: loop) { [unowned self] message in
                self.receive(message)
            }
            shared.listeningWorkers.withLock { $0 += 1 }
            if snapshot.config.redis.endpoint != nil {
                let queue = auditQueue
                redisLimits = RedisRateLimits(settings: snapshot.config.redis, loop: loop, shared: shared, workerIndex: index,
                                                  workerCount: snapshot.config.server.workers, log: log, metrics: metrics) { queue.push($0) }
            }
        } catch {
            log.critical("worker \(index) cannot start: \(error)")
            return
        }
        loop.run()
    }

    /// Once the loop has ended: drops the client connections and the pools (with their idle
    /// upstream connections) still open, which hold this worker strongly, so that they and the
    /// worker are freed together.
    private func releaseConnections() {
        connections.removeAll()
        pools.removeAll()
        servers.removeAll()
    }

    private func receive(_ message: WorkerMessage) {
        switch message {
        case .install(let newSnapshot):
            snapshot = newSnapshot
            loop.busyPoll = newSnapshot.config.server.busyPoll
            buildPools()
        case .drain:
            beginDrain()
        case .blocklist(let newBlocklist):
            blocklist = newBlocklist
        }
    }

    /// The worker's Redis side of rate limiting (nil without `[redis] url`).
    private(set) var redisLimits: RedisRateLimits?

    /// Whether rate limits can use Redis now.
    var redisAvailability: RateLimiter.RedisAvailability {
        guard let redisLimits else { return .none }
        return redisLimits.connection.isReady ? .up : .down(snapshot.config.redis.onFailure)
    }

    /// Fleet time in epoch milliseconds (audit timestamps).
    var epochMilliseconds: Int64 { shared.clock.nanoseconds(monotonic: loop.now) / 1_000_000 }

    /// Hands an audit event to the control thread (never waits; dropped and counted when full).
    func audit(_ event: AuditEvent) {
        auditQueue.push(event)
    }

    /// Fleet time in epoch seconds (blocklist expiry).
    var epochSeconds: UInt32 {
        UInt32(truncatingIfNeeded: shared.clock.nanoseconds(monotonic: loop.now) / 1_000_000_000)
    }

    private static let autoBanSeed: UInt64 = 0xA070_BA11

    /// Counts a 429 towards auto-ban: past the threshold within the period, the control thread
    /// is asked to ban the client.
    func countTowardsAutoBan(client: IPAddress) {
        let settings = snapshot.config.rateLimiting
        guard settings.autoBanRejections > 0 else { return }
        let period = Int64(settings.autoBanPeriod)
        let now = shared.clock.nanoseconds(monotonic: loop.now)
        let key = withUnsafeBytes(of: (client.high, client.low)) { KeyHash.hash($0.bindMemory(to: UInt8.self), seed: Self.autoBanSeed) }
        let result = shared.rateLimitCounters.hit(key: key, window: now / period, elapsed: Double(now % period) / Double(period),
                                                  limit: Int64(settings.autoBanRejections))
        if !result.admitted {
            control.post(.ban(client, reason: "auto-ban: \(settings.autoBanRejections) rate-limit rejections within \(settings.autoBanPeriod / 1_000_000_000)s"))
        }
    }

    /// Builds this snapshot's pools, keeping the state (idle connections, health) of servers
    /// that are still configured and closing the idle connections of those that are not.
    private func buildPools() {
        var kept: [String: UpstreamServer] = [:]
        pools = snapshot.config.upstreams.map { settings in
            let members = settings.servers.map { address in
                let server = kept[address.text] ?? servers[address.text] ?? UpstreamServer(address: address)
                kept[address.text] = server
                return server
            }
            return UpstreamPool(settings: settings, servers: members)
        }
        for (address, server) in servers where kept[address] == nil {
            while let idle = server.takeIdle() { idle.close() }
        }
        servers = kept
    }

    func connectionOpened(_ connection: ClientConnection) {
        do {
            try loop.register(connection, events: EventLoop.connectionEvents)
        } catch {
            connection.close()
            return
        }
        connections[ObjectIdentifier(connection)] = connection
        metrics.activeConnections.add(1)
        metrics.acceptedConnections.add(1)
        connection.drive()
    }

    /// Client connections open on this worker.
    var connectionCount: Int { connections.count }

    func connectionClosed(_ connection: ClientConnection) {
        guard connections.removeValue(forKey: ObjectIdentifier(connection)) != nil else { return }
        metrics.activeConnections.add(-1)
        resumeAccepting()
        if draining && connections.isEmpty { finish() }
    }

    /// Stops accepting and lets in-flight exchanges finish; every answer from now on closes its
    /// connection, and connections still idle after `idleGrace` are closed.
    private func beginDrain() {
        guard !draining else { return }
        draining = true
        for listener in listeners { loop.deregisterAndClose(listener) }
        listeners.removeAll()
        if connections.isEmpty {
            finish()
            return
        }
        idleGraceAlarm = Alarm(loop: loop, delay: min(Self.idleGrace, snapshot.config.timeouts.drain)) { [unowned self] in
            self.closingIdleConnections = true
            for connection in Array(self.connections.values) where connection.phase == .readingHead {
                connection.drive()
            }
        }
        drainAlarm = Alarm(loop: loop, delay: snapshot.config.timeouts.drain) { [unowned self] in
            self.log.warning("drain timeout: closing \(self.connections.count) connection(s)")
            for connection in Array(self.connections.values) { connection.close() }
            self.finish()
        }
    }

    private func finish() {
        redisLimits?.stop()
        for server in servers.values {
            while let idle = server.takeIdle() { idle.close() }
        }
        loop.stop()
    }
}
