/// A one-shot or repeating timer on a loop, for loop-level chores (drain deadline, periodic
/// flushes, reconnect backoff) rather than per-connection deadlines. It is an entry in the
/// loop's deadline queue, not a descriptor: arming one cannot fail, even with every
/// descriptor in use (a timer descriptor could not be made then, and a Redis reconnect or a
/// drain deadline that silently never fires is worse than any error).
public final class Alarm: Selectable {
    private let action: () -> Void
    private let interval: UInt64
    private unowned(unsafe) let loop: EventLoop

    /// Arms a timer on `loop` (from its thread, or before it runs) that calls `action` after
    /// `delay` ns, then every `interval` ns if not 0.
    public init(loop: EventLoop, delay: UInt64, interval: UInt64 = 0, action: @escaping () -> Void) {
        self.action = action
        self.interval = interval
        self.loop = loop
        super.init(fd: -1)
        loop.setDeadline(loop.now + max(delay, 1), for: self)
    }

    override public func deadlineReached() {
        if interval > 0 { loop.setDeadline(loop.now + interval, for: self) }
        action()
    }

    /// Stops the timer.
    public func cancel(on loop: EventLoop) {
        loop.setDeadline(0, for: self)
    }
}
