import CShims
import Glibc

/// A one-shot or repeating timer on a loop, backed by a `timerfd`, for loop-level chores
/// (drain deadline, periodic work) rather than per-connection deadlines.
public final class Alarm: Selectable {
    private let action: () -> Void

    /// Arms a timer that calls `action` after `delay` ns, then every `interval` ns if not 0.
    public init(loop: EventLoop, delay: UInt64, interval: UInt64 = 0, action: @escaping () -> Void) throws {
        self.action = action
        let fd = timerfd_create(CLOCK_MONOTONIC, Int32(TFD_NONBLOCK) | Int32(TFD_CLOEXEC))
        guard fd >= 0 else { throw SystemError("timerfd_create") }
        super.init(fd: fd)
        var spec = itimerspec()
        spec.it_value = Self.timespec(max(delay, 1))
        spec.it_interval = Self.timespec(interval)
        timerfd_settime(fd, 0, &spec, nil)
        try loop.register(self, events: EventLoop.readEvents)
    }

    override public func handleEvents(_ events: UInt32) {
        var expirations: UInt64 = 0
        _ = read(fd, &expirations, 8)
        action()
    }

    /// Stops the timer and closes it.
    public func cancel(on loop: EventLoop) {
        loop.deregisterAndClose(self)
    }

    private static func timespec(_ nanoseconds: UInt64) -> Glibc.timespec {
        Glibc.timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
    }
}
