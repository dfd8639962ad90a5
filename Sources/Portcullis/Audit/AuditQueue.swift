import Synchronization

/// A bounded queue of audit events from one worker to the control thread. Pushing never waits:
/// when the queue is full the event is dropped and counted.
final class AuditQueue: Sendable {
    private let events: Mutex<[AuditEvent]>
    private let capacity: Int
    private let droppedCount = Atomic<Int>(0)

    init(capacity: Int) {
        self.capacity = capacity
        events = Mutex([])
    }

    /// Events dropped because the queue was full.
    var dropped: Int { droppedCount.load(ordering: .relaxed) }

    func push(_ event: AuditEvent) {
        let accepted = events.withLock { queue in
            guard queue.count < capacity else { return false }
            queue.append(event)
            return true
        }
        if !accepted { droppedCount.add(1, ordering: .relaxed) }
    }

    /// Takes everything queued (control thread).
    func drain() -> [AuditEvent] {
        events.withLock { queue in
            defer { queue.removeAll(keepingCapacity: true) }
            return queue
        }
    }
}
