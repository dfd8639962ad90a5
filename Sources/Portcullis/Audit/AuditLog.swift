import Glibc
import Logging

/// The control thread's end of auditing: every 50 ms it takes the events the workers queued,
/// summarises floods, and writes each line to every sink (file with rotation, standard output,
/// Redis stream). Workers never wait for any of it.
final class AuditLog {
    /// One queue per worker, plus one for events of the control thread.
    let queues: [AuditQueue]
    private let settings: AuditSettings
    private let log: Logger
    private let clock: FleetClock
    private unowned(unsafe) let loop: EventLoop
    private var aggregator = AuditAggregator()
    /// Events written, by type (`portcullis status`).
    private(set) var tally = AuditTally()
    private var file: RotatingFile?
    private var redis: RedisClient?
    private var timer: Alarm?
    /// Lines for the Redis stream while Redis is away, or sent just before it went (sent when it
    /// is back; oldest dropped past `maxBacklog`), so an outage's own events reach the stream too.
    private var redisBacklog: [[UInt8]] = []
    private static let maxBacklog = 10_000

    init(settings: AuditSettings, redisSettings: RedisSettings, workers: Int, clock: FleetClock, loop: EventLoop, log: Logger) throws {
        self.settings = settings
        self.log = log
        self.clock = clock
        self.loop = loop
        queues = (0...workers).map { _ in AuditQueue(capacity: settings.queueSize) }
        if !settings.file.isEmpty {
            do {
                file = try RotatingFile(path: settings.file, maxSize: settings.maxFileSize, maxFiles: settings.maxFiles)
            } catch {
                throw AuditError(description: "cannot open the audit file: \(error)")
            }
        }
        if !settings.redisStream.isEmpty && redisSettings.endpoint != nil {
            let client = redisSettings.makeClient(loop: loop, log: log)
            client.onReady = { [unowned self] in self.sendBacklog() }
            client.start()
            redis = client
        }
        timer = Alarm(loop: loop, delay: 50_000_000, interval: 50_000_000) { [unowned self] in self.flush() }
    }

    /// Events dropped because a worker's queue was full.
    var dropped: Int { queues.reduce(0) { $0 + $1.dropped } }

    /// The current time for events, in epoch milliseconds.
    func now() -> Int64 { clock.nanoseconds(monotonic: MonotonicClock.now()) / 1_000_000 }

    /// An event of the control thread itself.
    func record(_ event: AuditEvent) {
        queues[queues.count - 1].push(event)
    }

    /// Writes what is queued, and the flood summaries that are due (all of them at the end).
    func flush(final: Bool = false) {
        for queue in queues {
            for event in queue.drain() {
                if let admitted = aggregator.admit(event) { write(admitted) }
            }
        }
        for summary in aggregator.summaries(nowMilliseconds: now(), final: final) { write(summary) }
    }

    func stop() {
        flush(final: true)
        timer?.cancel(on: loop)
        redis?.stop()
    }

    private func write(_ event: AuditEvent) {
        tally.record(event)
        let line = event.jsonLine()
        file?.append(line, log: log, what: "audit")
        if settings.stdout { try? FileIO.writeAll(STDOUT_FILENO, line, name: "standard output") }
        if redis != nil { addToStream(Array(line.dropLast())) }
    }

    private func addToStream(_ json: [UInt8]) {
        guard let redis else { return }
        let command = RedisCommand([Array("XADD".utf8), Array(settings.redisStream.utf8), Array("MAXLEN".utf8), Array("~".utf8),
                                    Array(String(settings.redisStreamMaxLength).utf8), Array("*".utf8), Array("event".utf8), json], keyAt: 1)
        // A connection that fails before the reply (Redis frozen or gone) hands the line back:
        // delivery is at least once, never silently lost.
        let sent = redis.send(command) { [unowned self] reply in
            if reply == nil { self.keepForLater(json) }
        }
        if !sent { keepForLater(json) }
    }

    private func keepForLater(_ json: [UInt8]) {
        if redisBacklog.count >= Self.maxBacklog { redisBacklog.removeFirst() }
        redisBacklog.append(json)
    }

    private func sendBacklog() {
        let waiting = redisBacklog
        redisBacklog.removeAll()
        for json in waiting { addToStream(json) }
    }
}

/// The audit sinks could not be set up.
struct AuditError: Error, CustomStringConvertible {
    let description: String
}
