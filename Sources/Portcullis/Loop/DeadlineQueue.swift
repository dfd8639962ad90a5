/// A min-heap of deadlines for `Selectable`s, updated lazily.
///
/// Connections push their deadline forward on nearly every event; doing a heap operation each
/// time would cost more than the rest of the request. Instead an object is in the heap at most
/// once per "earlier" deadline: moving a deadline later costs nothing, and when the stale entry
/// comes due the object is simply re-queued at its current deadline.
struct DeadlineQueue {
    private struct Entry {
        let at: UInt64
        let target: Selectable
    }

    private var heap: [Entry] = []

    /// The earliest queued time, if any (possibly stale: never later than the real earliest).
    var earliest: UInt64? { heap.first?.at }

    /// Records `deadline` (monotonic ns, 0 for none) on `target` and queues it if needed.
    mutating func set(_ deadline: UInt64, for target: Selectable) {
        target.deadline = deadline
        guard deadline != 0 else { return }
        if target.scheduledDeadline == 0 || deadline < target.scheduledDeadline {
            target.scheduledDeadline = deadline
            push(Entry(at: deadline, target: target))
        }
    }

    /// Pops every entry due at `now` and returns the objects whose own deadline has passed.
    mutating func expire(now: UInt64, into due: inout [Selectable]) {
        while let top = heap.first, top.at <= now {
            popTop()
            let target = top.target
            guard target.scheduledDeadline == top.at else { continue }
            target.scheduledDeadline = 0
            guard target.fd >= 0, target.deadline != 0 else { continue }
            if target.deadline <= now {
                due.append(target)
            } else {
                target.scheduledDeadline = target.deadline
                push(Entry(at: target.deadline, target: target))
            }
        }
    }

    private mutating func push(_ entry: Entry) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if heap[parent].at <= heap[child].at { break }
            heap.swapAt(parent, child)
            child = parent
        }
    }

    private mutating func popTop() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        var parent = 0
        let count = heap.count
        while true {
            let left = 2 * parent + 1
            if left >= count { break }
            var smallest = left
            let right = left + 1
            if right < count && heap[right].at < heap[left].at { smallest = right }
            if heap[parent].at <= heap[smallest].at { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
