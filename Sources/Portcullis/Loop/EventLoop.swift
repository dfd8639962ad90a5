import CShims
import Glibc

/// One epoll instance driven by one thread: readiness events, deadlines and a cached clock.
///
/// Every worker owns one loop and every connection lives on exactly one loop, so nothing in
/// here is locked. The loop is edge-triggered for connections (they track readiness
/// themselves) and level-triggered for listeners and mailboxes.
public final class EventLoop {
    /// Edge-triggered read and peer-close interest: what a connection starts with. Write
    /// interest is added only once a write would block (`watchWritable`), so the ACKs that free
    /// send-buffer space do not wake the loop for every response.
    public static let connectionEvents: UInt32 = EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLET.rawValue
    /// Connection interest including writability (pending connects, blocked writes).
    public static let connectionEventsWithWrite: UInt32 = connectionEvents | EPOLLOUT.rawValue
    /// Level-triggered read interest, used for listeners, eventfds and signalfds.
    public static let readEvents: UInt32 = EPOLLIN.rawValue

    private let epollFD: Int32
    private var registered: [Selectable?] = []
    private var nextGeneration: UInt32 = 1
    private var deadlines = DeadlineQueue()
    private var dueScratch: [Selectable] = []
    private var running = false
    /// The thread inside `run()`: everything but `Mailbox` posts must happen on it.
    private var loopThread: pthread_t?

    /// Monotonic time (ns) cached at the start of each iteration, like nginx's cached clock.
    /// (Internal like every stored property on the request path: see `ByteBuffer`.)
    private(set) var now: UInt64

    /// After events, keep polling without sleeping for this long (ns; 0 = never). Waking a
    /// sleeping thread costs tens of microseconds on virtual machines; a loop that polls briefly
    /// catches the next request of a busy connection before it goes to sleep.
    var busyPoll: UInt64 = 0

    public init() throws {
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else { throw SystemError("epoll_create1") }
        now = MonotonicClock.now()
    }

    deinit {
        close(epollFD)
    }

    /// True on the loop's own thread, or before the loop runs (set-up). Checked by assertions
    /// in debug builds and tests: a loop's objects are never touched from another thread.
    var isOnLoopThread: Bool {
        guard let loopThread else { return true }
        return pthread_equal(loopThread, pthread_self()) != 0
    }

    /// Registers `target` for `events`; the loop keeps it alive until `deregister`.
    public func register(_ target: Selectable, events: UInt32) throws {
        assert(isOnLoopThread, "register from outside the loop's thread")
        target.registrationGeneration = nextGeneration
        nextGeneration = nextGeneration == UInt32.max ? 1 : nextGeneration + 1
        var event = epoll_event()
        event.events = events
        event.data.u64 = UInt64(target.registrationGeneration) << 32 | UInt64(UInt32(bitPattern: target.fd))
        guard epoll_ctl(epollFD, EPOLL_CTL_ADD, target.fd, &event) == 0 else {
            throw SystemError("epoll_ctl(ADD)")
        }
        target.interest = events
        setRegistered(target, at: Int(target.fd))
    }

    /// Stores the object of descriptor `fd` (nil: none), growing the table as needed. The table
    /// is moved out for the change (`MovableOut`): it may grow, and the object it replaces may be freed.
    private func setRegistered(_ target: Selectable?, at fd: Int) {
        var table = moveOut(&registered)
        if fd >= table.count {
            table.append(contentsOf: repeatElement(nil, count: max(fd + 1 - table.count, 256)))
        }
        table[fd] = target
        registered = consume table
    }

    /// Changes the events `target` is registered for (a no-op when unchanged).
    @inline(__always)
    public func setInterest(_ events: UInt32, for target: Selectable) {
        assert(isOnLoopThread, "setInterest from outside the loop's thread")
        guard target.interest != events, target.fd >= 0 else { return }
        var event = epoll_event()
        event.events = events
        event.data.u64 = UInt64(target.registrationGeneration) << 32 | UInt64(UInt32(bitPattern: target.fd))
        if epoll_ctl(epollFD, EPOLL_CTL_MOD, target.fd, &event) == 0 { target.interest = events }
    }

    /// Removes `target` from the loop and closes its descriptor.
    public func deregisterAndClose(_ target: Selectable) {
        assert(isOnLoopThread, "deregisterAndClose from outside the loop's thread")
        let fd = target.fd
        guard fd >= 0 else { return }
        if Int(fd) < registered.count, registered[Int(fd)] === target { setRegistered(nil, at: Int(fd)) }
        // Closing the descriptor removes it from the epoll set.
        close(fd)
        target.fd = -1
        setDeadline(0, for: target)
    }

    /// Lets go of every registered object once `run()` has returned. Registered objects often
    /// hold the loop (a handler capturing it), so without this the cycle outlives the loop
    /// (LeakSanitizer reported it at every exit). Descriptors are left to their owners.
    public func releaseAll() {
        assert(!running, "releaseAll while the loop runs")
        registered.removeAll()
        deadlines = DeadlineQueue()
    }

    /// Removes `target` from the loop without closing its descriptor (a library owns it).
    public func deregister(_ target: Selectable) {
        let fd = target.fd
        guard fd >= 0 else { return }
        if Int(fd) < registered.count, registered[Int(fd)] === target { setRegistered(nil, at: Int(fd)) }
        epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil)
        target.fd = -1
        target.interest = 0
        setDeadline(0, for: target)
    }

    /// Objects waiting for a deadline (tests).
    var scheduledCount: Int { deadlines.count }

    /// Sets or clears (0) the deadline at which `target.deadlineReached()` is called.
    @inline(__always)
    public func setDeadline(_ deadline: UInt64, for target: Selectable) {
        assert(isOnLoopThread, "setDeadline from outside the loop's thread")
        // Moved out for the heap work: see `MovableOut` (the heap may grow).
        var queue = moveOut(&deadlines)
        queue.set(deadline, for: target)
        deadlines = consume queue
    }

    /// Runs until `stop()` is called from inside a callback.
    public func run() {
        running = true
        loopThread = pthread_self()
        var events = [epoll_event](repeating: epoll_event(), count: 512)
        var lastEventsAt = now
        while running {
            let timeout = now - lastEventsAt < busyPoll ? 0 : nextTimeoutMilliseconds()
            let count = events.withUnsafeMutableBufferPointer { buffer in
                epoll_wait(epollFD, buffer.baseAddress, Int32(buffer.count), timeout)
            }
            now = MonotonicClock.now()
            if count > 0 { lastEventsAt = now }
            if count < 0 {
                if errno == EINTR { continue }
                fatalError("epoll_wait failed: errno \(errno)")
            }
            for index in 0..<Int(count) {
                dispatch(events[index])
            }
            fireDeadlines()
        }
    }

    /// Makes `run()` return after the current iteration.
    public func stop() {
        running = false
    }

    private func dispatch(_ event: epoll_event) {
        let data = event.data.u64
        let fd = Int(UInt32(truncatingIfNeeded: data))
        guard fd < registered.count, let target = registered[fd],
              target.registrationGeneration == UInt32(truncatingIfNeeded: data >> 32) else { return }
        target.handleEvents(event.events)
    }

    private func fireDeadlines() {
        var queue = moveOut(&deadlines)
        var due = moveOut(&dueScratch)
        queue.expire(now: now, into: &due)
        deadlines = consume queue
        // Skipped: a target closed by an earlier callback of this batch (closing clears its
        // deadline), or one whose deadline an earlier callback moved later (it is queued again).
        for target in due where target.deadline != 0 && target.deadline <= now {
            target.deadline = 0
            target.deadlineReached()
        }
        due.removeAll(keepingCapacity: true)
        dueScratch = consume due
    }

    private func nextTimeoutMilliseconds() -> Int32 {
        guard let earliest = deadlines.earliest else { return 1000 }
        let current = MonotonicClock.now()
        if earliest <= current { return 0 }
        let milliseconds = (earliest - current + 999_999) / 1_000_000
        return Int32(min(milliseconds, 1000))
    }
}
