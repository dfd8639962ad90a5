import Synchronization

/// A bounded queue from one worker to the control thread (audit events, access-log records).
/// Pushing never waits: when the queue is full the element is dropped and counted.
final class BoundedQueue<Element: Sendable>: Sendable {
    private let events: Locked<[Element]>
    private let capacity: Int
    private let droppedCount = Atomic<Int>(0)

    init(capacity: Int) {
        self.capacity = capacity
        events = Locked([])
    }

    /// Elements dropped because the queue was full.
    var dropped: Int { droppedCount.load(ordering: .relaxed) }

    func push(_ event: Element) {
        let accepted = events.withLock { queue in
            guard queue.count < capacity else { return false }
            queue.append(event)
            return true
        }
        if !accepted { droppedCount.add(1, ordering: .relaxed) }
    }

    /// Takes everything queued (control thread).
    func drain() -> [Element] {
        events.withLock { queue in
            defer { queue.removeAll(keepingCapacity: true) }
            return queue
        }
    }
}

/// A worker's queue of audit events.
typealias AuditQueue = BoundedQueue<AuditEvent>
