/// Calls to make on the loop soon, never inside the call that asked for them: a failure found
/// while sending (Redis down, nothing could be sent) reaches its handler the way an answer
/// would, from the loop, so no caller is re-entered half way through its own work. Runs at the
/// loop's next pass through its deadlines (the end of the current iteration, or the next one
/// when queued from a deadline), in the order queued.
final class DeferredCalls: Selectable {
    private unowned(unsafe) let loop: EventLoop
    private var queued: [() -> Void] = []
    private var running: [() -> Void] = []

    init(loop: EventLoop) {
        self.loop = loop
        super.init(fd: -1)
    }

    func enqueue(_ call: @escaping () -> Void) {
        queued.append(call)
        if queued.count == 1 { loop.setDeadline(max(loop.now, 1), for: self) }
    }

    override func deadlineReached() {
        swap(&queued, &running)
        for call in running { call() }
        running.removeAll(keepingCapacity: true)
    }
}
