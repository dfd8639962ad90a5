import Logging

/// A worker's Redis side of rate limiting, on the worker's own connection and loop: leases of
/// tokens for batched rules (asked for by a request that has none left, or ahead of time when a
/// lease runs low), the atomic check-and-increment of strict rules, and every
/// `sync_interval_ms`, for its share of the counter table, the leases to give back (ended
/// windows, idle ones), the increments counted while Redis was unreachable, and the leases
/// whose answer was lost (the connection dropped with them in flight: Redis may have granted
/// them), reclaimed by their ids.
final class RedisRateLimits {
    let connection: RedisClient
    private let table: RateLimitTable
    private let shardIndices: [Int]
    private let loop: EventLoop
    private let shared: GatewayShared
    private var syncTimer: Alarm?
    private var items: [RateLimitTable.SyncItem] = []
    private var returns: [LeaseReturn] = []
    /// A lease sent whose answer never came.
    private struct LostLease {
        let counterName: [UInt8]
        let window: Int64
        let windowLength: Int64
        let id: [UInt8]
    }
    private var lostLeases: [LostLease] = []
    /// Lease ids: this worker's random prefix and a sequence number.
    private let leaseIDPrefix = String(UInt64.random(in: 0...UInt64.max), radix: 36) + "."
    private var leasesSent: UInt64 = 0
    /// A lease unused this long goes back, so instances that still get requests can have it.
    static let leaseIdle: Int64 = 1_000_000_000
    /// Failures found while sending, handed over from the loop.
    private let deferred: DeferredCalls
    private let metrics: WorkerMetrics

    init(settings: RedisSettings, loop: EventLoop, shared: GatewayShared, workerIndex: Int, workerCount: Int, log: Logger,
         metrics: WorkerMetrics, audit: @escaping (AuditEvent) -> Void) {
        self.metrics = metrics
        self.loop = loop
        self.shared = shared
        table = shared.rateLimitCounters
        deferred = DeferredCalls(loop: loop)
        shardIndices = Array(stride(from: workerIndex, to: RateLimitTable.shardCount, by: workerCount))
        connection = settings.makeClient(loop: loop, log: log)
        connection.setupCommands += RateLimitScripts.loadCommands
        connection.onReady = { [unowned self] in
            self.alignClock()
            if shared.redisHealth.restored(log: log) {
                audit(AuditEvent(.redisRestored, milliseconds: shared.clock.nanoseconds(monotonic: loop.now) / 1_000_000))
            }
        }
        connection.onLost = { reason, wasReady in
            if shared.redisHealth.lost(reason: reason, wasReady: wasReady, log: log) {
                audit(AuditEvent(.redisUnavailable, milliseconds: shared.clock.nanoseconds(monotonic: loop.now) / 1_000_000,
                                 details: [("reason", .text(reason)), ("on_redis_failure", .text(settings.onFailure.rawValue))]))
            }
        }
        syncTimer = Alarm(loop: loop, delay: settings.syncInterval, interval: settings.syncInterval) { [unowned self] in self.sync() }
        connection.start()
    }

    func stop() {
        syncTimer?.cancel(on: loop)
        loop.setDeadline(0, for: deferred)
        connection.stop()
    }

    /// Window numbers come from one clock for the whole fleet: Redis's.
    private func alignClock() {
        let sentAt = loop.now
        connection.send(RedisCommand("TIME")) { [unowned self] reply in
            guard case .array(let parts)? = reply, parts.count == 2, case .bytes(let seconds) = parts[0], case .bytes(let micros) = parts[1],
                  let secondsValue = Int64(String(decoding: seconds, as: UTF8.self)),
                  let microsValue = Int64(String(decoding: micros, as: UTF8.self)) else { return }
            // Redis read its clock about half way through the round trip.
            let midway = sentAt + (self.loop.now - sentAt) / 2
            self.shared.clock.align(referenceNanoseconds: secondsValue * 1_000_000_000 + microsValue * 1000, monotonic: midway)
        }
    }

    /// Gives back the leases of this worker's shards that are done, sends their increments
    /// counted while Redis was unreachable and learns the fleet's counts.
    private func sync() {
        guard connection.isReady else { return }
        returns.removeAll(keepingCapacity: true)
        table.takeLeaseReturns(shardIndices: shardIndices, now: shared.clock.nanoseconds(monotonic: loop.now), idleAfter: Self.leaseIdle,
                               into: &returns)
        for back in returns {
            _ = run(RateLimitScripts.giveBack, sha: RateLimitScripts.giveBackSHA, keys: [Self.windowKey(back.sharedName, back.window)],
                    arguments: [Array(String(back.tokens).utf8)]) { _ in }
        }
        reclaimLostLeases()
        items.removeAll(keepingCapacity: true)
        table.takeUnsynced(shardIndices: shardIndices, into: &items)
        let sentAt = loop.now
        for item in items {
            let sent = run(RateLimitScripts.sync, sha: RateLimitScripts.syncSHA,
                           keys: [Self.windowKey(item.sharedName, item.window), Self.windowKey(item.sharedName, item.window - 1)],
                           arguments: [Array(String(item.delta).utf8), Self.expiry(item.windowLength)]) { [unowned self] reply in
                if let counts = reply?.integers, counts.count == 2 {
                    self.metrics.redisSyncDuration.observe(nanoseconds: self.loop.now - sentAt)
                    self.table.applySynced(item, current: counts[0], previous: counts[1])
                } else {
                    self.metrics.redisErrors.add(1)
                    self.table.restoreUnsynced(item)
                }
            }
            if !sent { table.restoreUnsynced(item) }
        }
    }

    /// Runs a strict rule's check-and-increment: `done` gets Redis's answer; `failed` is called
    /// instead when Redis cannot answer (the caller applies `on_redis_failure`). Either comes
    /// later, from the loop, never inside this call.
    func check(_ check: RateLimiter.StrictCheck, limit: Int64, windowLength: Int64,
               done: @escaping (_ admitted: Bool, _ current: Int64, _ previous: Int64) -> Void, failed: @escaping () -> Void) {
        let sent = run(RateLimitScripts.check, sha: RateLimitScripts.checkSHA,
                       keys: [Self.windowKey(check.counterName, check.window), Self.windowKey(check.counterName, check.window - 1)],
                       arguments: [Array(String(limit).utf8), Array(String(check.elapsed).utf8),
                                   Self.expiry(windowLength)]) { [unowned self] reply in
            guard let answer = reply?.integers, answer.count == 3 else {
                self.metrics.redisErrors.add(1)
                failed()
                return
            }
            done(answer[0] == 1, answer[1], answer[2])
        }
        if !sent { deferred.enqueue(failed) }
    }

    /// Asks for a lease of tokens for a batched rule. For a request that waits on it
    /// (`.lease`), `answered` gets its report; for a refill it gets nil. `failed` is called
    /// instead when Redis cannot answer. Either comes later, from the loop, never inside this call.
    func lease(_ check: RateLimiter.StrictCheck, limiter: RateLimiter, answered: @escaping (RateLimiter.Report?) -> Void,
               failed: @escaping () -> Void) {
        let rule = limiter.rules[check.rule]
        leasesSent += 1
        let id = Array((leaseIDPrefix + String(leasesSent, radix: 36)).utf8)
        let sent = run(RateLimitScripts.lease, sha: RateLimitScripts.leaseSHA,
                       keys: [Self.windowKey(check.counterName, check.window), Self.windowKey(check.counterName, check.window - 1),
                              Self.leasesKey(check.counterName, check.window)],
                       arguments: [Array(String(rule.limit).utf8), Array(String(check.elapsed).utf8),
                                   Self.expiry(rule.windowNanoseconds), id]) { [unowned self] reply in
            guard let answer = reply?.integers, answer.count == 3 else {
                self.metrics.redisErrors.add(1)
                self.lostLeases.append(LostLease(counterName: check.counterName, window: check.window, windowLength: rule.windowNanoseconds, id: id))
                failed()
                return
            }
            answered(limiter.leaseAnswered(check, granted: answer[0], current: answer[1], previous: answer[2], monotonic: self.loop.now))
        }
        if !sent { deferred.enqueue(failed) }
    }

    /// Sends a reclaim for every lost lease; one whose reclaim gets no answer either (the
    /// connection dropped again) is tried at the next sync.
    private func reclaimLostLeases() {
        let lost = lostLeases
        lostLeases.removeAll()
        for lease in lost {
            let sent = run(RateLimitScripts.reclaim, sha: RateLimitScripts.reclaimSHA,
                           keys: [Self.windowKey(lease.counterName, lease.window), Self.leasesKey(lease.counterName, lease.window)],
                           arguments: [lease.id, Self.expiry(lease.windowLength)]) { [unowned self] reply in
                if reply == nil { self.lostLeases.append(lease) }
            }
            if !sent { lostLeases.append(lease) }
        }
    }

    /// Runs a script by its SHA; after a `NOSCRIPT` (Redis restarted without it, or
    /// `SCRIPT FLUSH`) the same call is sent again with the script's text, which also caches
    /// it in Redis. False when nothing could be sent.
    private func run(_ script: String, sha: String, keys: [[UInt8]], arguments: [[UInt8]], handle: @escaping (RedisValue?) -> Void) -> Bool {
        let bySHA = RateLimitScripts.command(sha: sha, script: script, byText: false, keys: keys, arguments: arguments)
        return connection.send(bySHA) { [unowned self] reply in
            guard case .error(let message)? = reply, message.hasPrefix("NOSCRIPT") else {
                handle(reply)
                return
            }
            let byText = RateLimitScripts.command(sha: sha, script: script, byText: true, keys: keys, arguments: arguments)
            if !self.connection.send(byText, handle: handle) { handle(nil) }
        }
    }

    private static func windowKey(_ name: [UInt8], _ window: Int64) -> [UInt8] {
        name + [UInt8(ascii: ":")] + Array(String(window).utf8)
    }

    /// The scripts' TTL argument: a window's keys live two windows (in ms), long enough to be
    /// the previous window of the next.
    private static func expiry(_ windowNanoseconds: Int64) -> [UInt8] {
        Array(String(2 * windowNanoseconds / 1_000_000).utf8)
    }

    /// The ids of the leases granted in a window, and what each got (same hash tag as the window).
    private static func leasesKey(_ name: [UInt8], _ window: Int64) -> [UInt8] {
        windowKey(name, window) + Array(":leases".utf8)
    }
}
