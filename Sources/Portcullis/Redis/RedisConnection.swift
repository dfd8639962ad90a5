import CHiredis
import CShims
import Glibc
import Logging

/// One hiredis async connection driven by an `EventLoop` (the shape of h2o's `redis.c`): the
/// hiredis hooks turn read and write interest on and off for our epoll, and our loop calls
/// hiredis when the socket is ready. Nothing here ever blocks the loop.
///
/// hiredis 0.14 has no timeouts, so they are ours: a connection that does not come up within
/// `connectTimeout`, or a command unanswered after `commandTimeout`, drops the connection (the
/// circuit opens: callers decide without Redis at once) and a reconnect follows with
/// exponential backoff. Replies come back in order, so each command's handler waits in a FIFO.
/// Given several endpoints (the seed nodes of a cluster), each reconnection tries the next.
final class RedisConnection: Selectable, RedisClient {
    enum State {
        case disconnected
        case connecting
        /// Connected; the setup commands (AUTH, SELECT, SCRIPT LOAD …) are running.
        case settingUp
        case ready
    }

    private let settings: RedisSettings
    private let endpoints: [RedisSettings.Endpoint]
    private var nextEndpoint = 0
    private unowned(unsafe) let loop: EventLoop
    private let log: Logger
    private var context: UnsafeMutablePointer<redisAsyncContext>?
    private var handlers: [(sentAt: UInt64, handle: (RedisValue?) -> Void)] = []
    private var handlersHead = 0
    private(set) var state = State.disconnected
    private var connectStartedAt: UInt64 = 0
    private var backoff: UInt64 = RedisConnection.firstBackoff
    private var reconnectTimer: Alarm?
    private var readWanted = false
    private var writeWanted = false
    private var stopped = false

    var setupCommands: [RedisCommand]
    var onReady: (() -> Void)?
    var onLost: ((_ reason: String, _ wasReady: Bool) -> Void)?
    /// Set by `subscribe`: from then on every reply is a pushed message.
    private var onMessage: ((RedisValue) -> Void)?

    private static let firstBackoff: UInt64 = 100_000_000
    private static let maximumBackoff: UInt64 = 5_000_000_000

    /// `endpoints`: where to connect, by default every address in the settings' URL.
    init(settings: RedisSettings, loop: EventLoop, log: Logger, endpoints: [RedisSettings.Endpoint]? = nil) {
        self.settings = settings
        self.endpoints = endpoints ?? settings.endpoints
        self.loop = loop
        self.log = log
        setupCommands = Self.handshake(for: settings)
        super.init(fd: -1)
    }

    /// The commands that authenticate and select the database.
    static func handshake(for settings: RedisSettings) -> [RedisCommand] {
        var commands: [RedisCommand] = []
        if let password = settings.password {
            commands.append(settings.username.map { RedisCommand("AUTH", $0, password) } ?? RedisCommand("AUTH", password))
        }
        if settings.database != 0 { commands.append(RedisCommand("SELECT", String(settings.database))) }
        return commands
    }

    var isReady: Bool { state == .ready }

    /// The address this connection uses now.
    var endpoint: RedisSettings.Endpoint { endpoints[nextEndpoint % endpoints.count] }

    func start() {
        stopped = false
        connect()
    }

    func stop() {
        stopped = true
        reconnectTimer?.cancel(on: loop)
        reconnectTimer = nil
        if let context { redisAsyncFree(context) }
    }

    @discardableResult
    func send(_ command: RedisCommand, handle: @escaping (RedisValue?) -> Void) -> Bool {
        guard state == .ready else { return false }
        return enqueue(command, handle: handle)
    }

    /// Turns the connection into a subscriber of `channel`: every message (and the
    /// subscription's confirmation) goes to `onMessage`. Subscribe again after a reconnection.
    @discardableResult
    func subscribe(_ channel: String, onMessage: @escaping (RedisValue) -> Void) -> Bool {
        guard state == .ready else { return false }
        self.onMessage = onMessage
        return write(RedisCommand("SUBSCRIBE", channel))
    }

    private func enqueue(_ command: RedisCommand, handle: @escaping (RedisValue?) -> Void) -> Bool {
        guard write(command) else { return false }
        handlers.append((loop.now, handle))
        updateDeadline()
        return true
    }

    /// Hands the command to hiredis (sent when the socket is writable); replies come to `onReply`.
    private func write(_ command: RedisCommand) -> Bool {
        guard let context else { return false }
        return command.bytes.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) {
                redisAsyncFormattedCommand(context, { context, reply, _ in RedisConnection.onReply(context, reply) }, nil, $0.baseAddress,
                                           command.length)
            }
        } == REDIS_OK
    }

    // MARK: Connecting

    private func connect() {
        reconnectTimer?.cancel(on: loop)
        reconnectTimer = nil
        guard !stopped, context == nil, !endpoints.isEmpty else { return }
        let made: UnsafeMutablePointer<redisAsyncContext>?
        switch endpoint {
        case .tcp(let host, let port): made = redisAsyncConnect(host, Int32(port))
        case .unix(let path): made = redisAsyncConnectUnix(path)
        }
        guard let made, made.pointee.err == 0 else {
            let reason = made.map { String(cString: $0.pointee.errstr) } ?? "out of memory"
            if let made { redisAsyncFree(made) }
            failed("cannot connect: \(reason)")
            return
        }
        context = made
        let me = Unmanaged.passUnretained(self).toOpaque()
        made.pointee.data = me
        made.pointee.ev.data = me
        made.pointee.ev.addRead = { RedisConnection.from($0).watch(read: true, write: nil) }
        made.pointee.ev.delRead = { RedisConnection.from($0).watch(read: false, write: nil) }
        made.pointee.ev.addWrite = { RedisConnection.from($0).watch(read: nil, write: true) }
        made.pointee.ev.delWrite = { RedisConnection.from($0).watch(read: nil, write: false) }
        made.pointee.ev.cleanup = { RedisConnection.from($0).detach() }
        fd = made.pointee.c.fd
        readWanted = false
        writeWanted = false
        do {
            try loop.register(self, events: 0)
        } catch {
            redisAsyncFree(made)
            return
        }
        state = .connecting
        connectStartedAt = loop.now
        // In hiredis 0.14 setting the connect callback asks for write interest at once: the
        // hooks above must be in place first.
        redisAsyncSetConnectCallback(made) { context, status in RedisConnection.onConnect(context, status) }
        redisAsyncSetDisconnectCallback(made) { context, status in RedisConnection.onDisconnect(context, status) }
        updateDeadline()
    }

    private func connected() {
        state = .settingUp
        let steps = setupCommands
        guard !steps.isEmpty else {
            becameReady()
            return
        }
        var remaining = steps.count
        for command in steps {
            let queued = enqueue(command) { [unowned self] reply in
                guard self.state == .settingUp else { return }
                if case .error(let message)? = reply {
                    self.drop("setup command refused: \(message)")
                    return
                }
                guard reply != nil else { return }
                remaining -= 1
                if remaining == 0 { self.becameReady() }
            }
            if !queued {
                drop("cannot send setup commands")
                return
            }
        }
    }

    private func becameReady() {
        state = .ready
        backoff = Self.firstBackoff
        onReady?()
    }

    /// Tears the connection down now (timeouts, failed setup); hiredis fails every pending
    /// handler and calls the disconnect callback, which schedules the reconnect.
    private func drop(_ reason: String) {
        guard let context else { return }
        log.debug("redis: dropping the connection: \(reason)")
        lostReason = reason
        redisAsyncFree(context)
    }

    private var lostReason: String?

    private func failed(_ reason: String) {
        let wasUp = state == .ready
        state = .disconnected
        onMessage = nil
        failHandlers()
        loop.setDeadline(0, for: self)
        if !stopped {
            nextEndpoint += 1
            onLost?(wasUp ? "connection lost: \(reason)" : reason, wasUp)
            scheduleReconnect()
        }
    }

    private func scheduleReconnect() {
        let delay = backoff
        backoff = min(backoff * 2, Self.maximumBackoff)
        reconnectTimer?.cancel(on: loop)
        reconnectTimer = Alarm(loop: loop, delay: delay) { [unowned self] in self.connect() }
    }

    private func failHandlers() {
        while handlersHead < handlers.count {
            let handler = handlers[handlersHead].handle
            handlersHead += 1
            handler(nil)
        }
        handlers.removeAll(keepingCapacity: true)
        handlersHead = 0
    }

    // MARK: The loop's side

    override func handleEvents(_ events: UInt32) {
        guard let current = context else { return }
        if events & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 { redisAsyncHandleRead(current) }
        if context == current, events & (EPOLLOUT.rawValue | EPOLLERR.rawValue) != 0 { redisAsyncHandleWrite(current) }
    }

    override func deadlineReached() {
        let now = loop.now
        switch state {
        case .connecting, .settingUp:
            if now >= connectStartedAt + max(settings.commandTimeout * 10, 1_000_000_000) { drop("connect timeout") }
        case .ready:
            if handlersHead < handlers.count && now >= handlers[handlersHead].sentAt + settings.commandTimeout {
                drop("no reply within \(settings.commandTimeout / 1_000_000)ms")
            }
        case .disconnected:
            break
        }
        if context != nil { updateDeadline() }
    }

    private func updateDeadline() {
        switch state {
        case .connecting, .settingUp:
            loop.setDeadline(connectStartedAt + max(settings.commandTimeout * 10, 1_000_000_000), for: self)
        case .ready:
            loop.setDeadline(handlersHead < handlers.count ? handlers[handlersHead].sentAt + settings.commandTimeout : 0, for: self)
        case .disconnected:
            break
        }
    }

    private func watch(read: Bool?, write: Bool?) {
        if let read { readWanted = read }
        if let write { writeWanted = write }
        loop.setInterest((readWanted ? EPOLLIN.rawValue : 0) | (writeWanted ? EPOLLOUT.rawValue : 0), for: self)
    }

    /// hiredis is freeing the context: it closes the socket itself.
    private func detach() {
        loop.deregister(self)
        context = nil
    }

    private func popHandler(_ reply: RedisValue?) {
        guard handlersHead < handlers.count else { return }
        let handler = handlers[handlersHead].handle
        handlersHead += 1
        if handlersHead == handlers.count {
            handlers.removeAll(keepingCapacity: true)
            handlersHead = 0
        }
        handler(reply)
        if state == .ready { updateDeadline() }
    }

    // MARK: C callbacks

    private static func from(_ pointer: UnsafeMutableRawPointer?) -> RedisConnection {
        Unmanaged<RedisConnection>.fromOpaque(pointer!).takeUnretainedValue()
    }

    private static func onReply(_ context: UnsafeMutablePointer<redisAsyncContext>?, _ reply: UnsafeMutableRawPointer?) {
        guard let context else { return }
        let connection = from(context.pointee.data)
        let value = reply.map { RedisValue($0.assumingMemoryBound(to: redisReply.self)) }
        if let onMessage = connection.onMessage {
            if let value { onMessage(value) }
            return
        }
        connection.popHandler(value)
    }

    private static func onConnect(_ context: UnsafePointer<redisAsyncContext>?, _ status: Int32) {
        guard let context else { return }
        let connection = from(context.pointee.data)
        if status == REDIS_OK {
            connection.connected()
        } else {
            // hiredis frees the context after this callback.
            connection.context = nil
            connection.failed(String(cString: context.pointee.errstr))
        }
    }

    private static func onDisconnect(_ context: UnsafePointer<redisAsyncContext>?, _ status: Int32) {
        guard let context else { return }
        let connection = from(context.pointee.data)
        connection.context = nil
        let reason = connection.lostReason ?? (status == REDIS_OK ? "closed" : String(cString: context.pointee.errstr))
        connection.lostReason = nil
        connection.failed(reason)
    }
}
