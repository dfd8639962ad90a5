import Glibc

/// A binary upgrade in progress, on the control thread of the gateway being replaced: the new
/// binary is started with this process' arguments and environment plus one end of an
/// `UpgradeChannel` (its descriptor 3, named by `PORTCULLIS_UPGRADE_FD`), is sent the
/// listening sockets and the state that must survive, and has `timeout` to answer `ready`.
/// Whatever happens, `completion` is called once: with the new pid, or with why it failed
/// (a new process that failed or hung is stopped and reaped; this gateway keeps serving).
final class BinaryUpgrade: Selectable {
    /// A new process that serves.
    struct Success {
        let pid: pid_t
        /// From the start of the new process to its `ready` (ns).
        let readyAfter: UInt64
    }

    /// Why an upgrade did not happen, in words for the operator.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private enum Progress {
        case waitingForReady
        /// The new process gave up (or its channel closed): waiting for it to exit, until `deadline`.
        case waitingForExit(reason: String?, deadline: UInt64)
        case finished
    }

    private let loop: EventLoop
    let child: pid_t
    let binary: String
    private let startedAt: UInt64
    private var progress = Progress.waitingForReady
    private let completion: (Result<Success, Failure>) -> Void
    private static let exitGrace: UInt64 = 5_000_000_000
    private static let exitPoll: UInt64 = 10_000_000

    /// What the new process is handed besides the sockets.
    struct State {
        let ticketKey: (bytes: [UInt8], age: UInt64)
        let challenges: [(token: String, keyAuthorization: String, remaining: UInt64)]
        let counters: [RateLimitTable.CarriedCounter]
    }

    /// Starts `binary` and sends it `sockets` (listener key and descriptor) and `state`. Throws
    /// when the binary cannot be started at all.
    init(loop: EventLoop, binary: String, arguments: [String], sockets: [(key: String, fd: Int32)], state handedOver: State,
         timeout: UInt64, completion: @escaping (Result<Success, Failure>) -> Void) throws(Failure) {
        self.loop = loop
        self.binary = binary
        self.completion = completion
        let ends: (mine: Int32, theirs: Int32)
        do {
            ends = try UpgradeChannel.pair()
        } catch {
            throw Failure(description: "cannot make the upgrade channel: \(error)")
        }
        startedAt = MonotonicClock.now()
        do {
            child = try ProcessSpawner.spawn(binary, arguments: arguments,
                                             environment: Self.environment(),
                                             passing: [ends.theirs])
        } catch {
            close(ends.mine)
            close(ends.theirs)
            throw Failure(description: "cannot start \(binary): \(error)")
        }
        close(ends.theirs)
        super.init(fd: ends.mine)
        // A send that fails means the new process is gone or stuck: its exit status, or the
        // timeout, says which below.
        let channel = UpgradeChannel(fd: ends.mine)
        channel.setTimeouts(seconds: 5)
        try? Self.sendHandover(on: channel, sockets: sockets, state: handedOver)
        _ = fcntl(ends.mine, F_SETFL, fcntl(ends.mine, F_GETFL) | O_NONBLOCK)
        loop.setDeadline(startedAt + timeout, for: self)
        do {
            try loop.register(self, events: EventLoop.readEvents)
        } catch {
            stopChild(reason: "cannot watch the new process: \(error)")
        }
    }

    /// This process' environment for the new one, plus the channel; without `WATCHDOG_PID`
    /// (it names this process: the new one would think the watchdog is not its business).
    private static func environment() -> [String] {
        ProcessSpawner.currentEnvironment.filter { !$0.hasPrefix("WATCHDOG_PID=") } + ["\(UpgradeHandover.environmentVariable)=3"]
    }

    private static func sendHandover(on channel: UpgradeChannel, sockets: [(key: String, fd: Int32)], state handedOver: State) throws(SystemError) {
        for start in stride(from: 0, to: sockets.count, by: UpgradeChannel.descriptorsPerMessage) {
            let batch = sockets[start..<min(sockets.count, start + UpgradeChannel.descriptorsPerMessage)]
            var message = UpgradeMessage(.sockets)
            message.keys = batch.map(\.key)
            try channel.send(message, descriptors: batch.map(\.fd))
        }
        var state = UpgradeMessage(.state)
        state.ticketKey = handedOver.ticketKey.bytes
        state.ticketKeyAgeMilliseconds = handedOver.ticketKey.age / 1_000_000
        try channel.send(state)
        for challenge in handedOver.challenges {
            var message = UpgradeMessage(.challenge)
            message.token = challenge.token
            message.keyAuthorization = challenge.keyAuthorization
            message.remainingMilliseconds = challenge.remaining / 1_000_000
            try channel.send(message)
        }
        for start in stride(from: 0, to: handedOver.counters.count, by: UpgradeChannel.countersPerMessage) {
            var message = UpgradeMessage(.counters)
            message.counters = Array(handedOver.counters[start..<min(handedOver.counters.count, start + UpgradeChannel.countersPerMessage)])
            try channel.send(message)
        }
        try channel.send(UpgradeMessage(.end))
    }

    override func handleEvents(_ events: UInt32) {
        while case .waitingForReady = progress {
            let received: UpgradeChannel.Received
            do {
                received = try UpgradeChannel(fd: fd).receive()
            } catch {
                stopChild(reason: "\(error)")
                return
            }
            switch received {
            case .nothing:
                return
            case .closed:
                waitForExit(reason: nil)
            case .message(let message, let descriptors):
                descriptors.forEach { close($0) }
                switch message.kind {
                case .ready:
                    finish(.success(Success(pid: child, readyAfter: MonotonicClock.now() - startedAt)))
                case .failed:
                    waitForExit(reason: message.reason ?? "no reason given")
                default:
                    continue
                }
            }
        }
    }

    override func deadlineReached() {
        switch progress {
        case .waitingForReady:
            stopChild(reason: "it did not become ready within \((loop.now - startedAt) / 1_000_000_000) s")
        case .waitingForExit(let reason, let deadline):
            if let status = reap(blocking: false) {
                finish(.failure(Failure(description: describe(reason: reason, status: status))))
            } else if loop.now >= deadline {
                stopChild(reason: reason ?? "it closed the upgrade channel")
            } else {
                loop.setDeadline(loop.now + Self.exitPoll, for: self)
            }
        case .finished:
            break
        }
    }

    /// The new process refused or its channel closed: it exits by itself (reaped here), or is
    /// stopped after a grace period.
    private func waitForExit(reason: String?) {
        progress = .waitingForExit(reason: reason, deadline: loop.now + Self.exitGrace)
        loop.deregisterAndClose(self)
        loop.setDeadline(loop.now + Self.exitPoll, for: self)
    }

    /// Gives up (the gateway is stopping): the new process is stopped, the outcome a failure.
    func cancel(reason: String) {
        if case .finished = progress { return }
        stopChild(reason: reason)
    }

    /// Kills the new process (it never served: nothing of it is worth a drain) and reports why.
    private func stopChild(reason: String) {
        kill(child, SIGKILL)
        _ = reap(blocking: true)
        finish(.failure(Failure(description: "the new binary \(binary) (pid \(child)) was stopped: \(reason)")))
    }

    /// The child's wait status once it has ended.
    private func reap(blocking: Bool) -> Int32? {
        var status: Int32 = 0
        while true {
            let result = waitpid(child, &status, blocking ? 0 : WNOHANG)
            if result == child { return status }
            if result < 0 && errno == EINTR { continue }
            return result < 0 ? -1 : nil
        }
    }

    private func describe(reason: String?, status: Int32) -> String {
        let ending = status < 0 ? "ended" : status & 0x7f == 0 ? "exited with status \((status >> 8) & 0xff)" : "was killed by signal \(status & 0x7f)"
        return "the new binary \(binary) (pid \(child)) \(ending) before it was ready" + (reason.map { ": \($0)" } ?? "")
    }

    private func finish(_ result: Result<Success, Failure>) {
        if case .finished = progress { return }
        progress = .finished
        loop.deregisterAndClose(self)
        loop.setDeadline(0, for: self)
        completion(result)
    }
}
