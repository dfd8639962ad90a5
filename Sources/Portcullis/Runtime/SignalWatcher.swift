import CShims
import Glibc

/// Receives SIGHUP, SIGTERM, SIGINT and SIGUSR2 through a `signalfd` on the control loop. The signals are
/// blocked in the calling thread before any worker starts, so workers inherit the mask and the
/// control thread alone sees them.
final class SignalWatcher: Selectable {
    private let handler: (Int32) -> Void

    init(loop: EventLoop, handler: @escaping (Int32) -> Void) throws {
        self.handler = handler
        let signals: [Int32] = [SIGHUP, SIGTERM, SIGINT, SIGUSR2]
        let fd = signals.withUnsafeBufferPointer { cshims_signalfd_for($0.baseAddress, Int32($0.count)) }
        guard fd >= 0 else { throw SystemError("signalfd") }
        super.init(fd: fd)
        try loop.register(self, events: EventLoop.readEvents)
    }

    override func handleEvents(_ events: UInt32) {
        var info = signalfd_siginfo()
        while read(fd, &info, MemoryLayout<signalfd_siginfo>.size) == MemoryLayout<signalfd_siginfo>.size {
            handler(Int32(info.ssi_signo))
        }
    }
}
