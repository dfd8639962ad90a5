import Logging

/// The control thread's end of the access log: every 100 ms it takes the workers' records and
/// appends their lines to the rotating file. Workers never wait on it.
final class AccessLogWriter {
    let queues: [BoundedQueue<AccessRecord>]
    private let format: AccessLogSettings.Format
    private let file: RotatingFile
    private let log: Logger
    private unowned(unsafe) let loop: EventLoop
    private var timer: Alarm?

    init(settings: AccessLogSettings, workers: Int, loop: EventLoop, log: Logger) throws {
        queues = (0..<workers).map { _ in BoundedQueue(capacity: settings.queueSize) }
        format = settings.format
        self.log = log
        self.loop = loop
        do {
            file = try RotatingFile(path: settings.file, maxSize: settings.maxFileSize, maxFiles: settings.maxFiles)
        } catch {
            throw AuditError(description: "cannot open the access log: \(error)")
        }
        timer = Alarm(loop: loop, delay: 100_000_000, interval: 100_000_000) { [unowned self] in self.flush() }
    }

    /// Records dropped because a worker's queue was full.
    var dropped: Int { queues.reduce(0) { $0 + $1.dropped } }

    func flush() {
        var lines: [UInt8] = []
        for queue in queues {
            for record in queue.drain() { lines += record.line(format) }
        }
        guard !lines.isEmpty else { return }
        file.append(lines, log: log, what: "access log")
    }

    func stop() {
        flush()
        timer?.cancel(on: loop)
    }
}
