import CShims
import Glibc
@testable import Portcullis
import Testing

/// The loop's deadline queue: deadlines fire once and on time, moving them works both ways, and
/// a closed object leaves the queue at once (it used to stay, strongly held, until its deadline:
/// the memory growth under short connections). Alarms, the loop's timers, live in it too.
@Suite struct DeadlineQueueTests {
    /// An object on an eventfd, as a connection would be on its socket.
    final class Timed: Selectable {
        init() { super.init(fd: eventfd(0, Int32(EFD_NONBLOCK))) }
    }

    @Test func aClosedObjectIsReleasedAtOnce() throws {
        let loop = try EventLoop()
        weak var released: Timed?
        do {
            let timed = Timed()
            try loop.register(timed, events: EventLoop.readEvents)
            loop.setDeadline(loop.now + 10_000_000_000, for: timed)
            released = timed
            #expect(loop.scheduledCount == 1)
            loop.deregisterAndClose(timed)
        }
        #expect(loop.scheduledCount == 0)
        #expect(released == nil, "the deadline queue kept a closed connection alive")
    }

    /// One-shot and repeating alarms fire on time, a cancelled one stops, and none takes a
    /// descriptor (a timer that needs one could not be armed with every descriptor in use).
    @Test func alarmsFireOnTheLoopWithoutADescriptor() throws {
        let loop = try EventLoop()
        let started = MonotonicClock.now()
        var oneShotAt: UInt64 = 0
        var ticks: [UInt64] = []
        let oneShot = Alarm(loop: loop, delay: 30_000_000) { oneShotAt = MonotonicClock.now() }
        var repeating: Alarm?
        repeating = Alarm(loop: loop, delay: 10_000_000, interval: 10_000_000) {
            ticks.append(MonotonicClock.now())
            if ticks.count == 5 { repeating?.cancel(on: loop) }
        }
        let cancelled = Alarm(loop: loop, delay: 20_000_000) { Issue.record("a cancelled alarm fired") }
        cancelled.cancel(on: loop)
        #expect(oneShot.fd == -1 && repeating?.fd == -1)
        _ = Alarm(loop: loop, delay: 120_000_000) { loop.stop() }
        loop.run()
        #expect(oneShotAt >= started + 30_000_000, "the one-shot alarm fired after its delay")
        #expect(ticks.count == 5, "the repeating alarm fired until cancelled: \(ticks.count)")
        for (index, tick) in ticks.enumerated() {
            #expect(tick >= started + UInt64(index + 1) * 10_000_000, "tick \(index) early")
        }
        #expect(loop.scheduledCount == 0, "nothing left queued")
        loop.releaseAll()
    }

    /// Deferred calls run from the loop, after the call that queued them, in order; one queued
    /// by a deferred call runs on a later pass, not inside it.
    @Test func deferredCallsNeverRunInsideTheCallThatQueuedThem() throws {
        let loop = try EventLoop()
        let deferred = DeferredCalls(loop: loop)
        var log: [String] = []
        _ = Alarm(loop: loop, delay: 1_000_000) {
            deferred.enqueue { log.append("first") }
            deferred.enqueue {
                log.append("second")
                deferred.enqueue { log.append("queued by second") }
                log.append("second returns")
            }
            log.append("alarm returns")
        }
        _ = Alarm(loop: loop, delay: 50_000_000) { loop.stop() }
        loop.run()
        #expect(log == ["alarm returns", "first", "second", "second returns", "queued by second"])
        loop.releaseAll()
    }

    @Test func deadlinesFireOnTimeAndMoveBothWays() {
        var queue = DeadlineQueue()
        let objects = (0..<200).map { _ in Timed() }
        defer { for object in objects { close(object.fd) } }
        var generator = SystemRandomNumberGenerator()
        var expected: [ObjectIdentifier: UInt64] = [:]
        for object in objects {
            let first = UInt64.random(in: 1...1000, using: &generator)
            queue.set(first, for: object)
            // Half move later (lazily), a quarter earlier, a quarter are cleared.
            switch Int.random(in: 0..<4, using: &generator) {
            case 0, 1: queue.set(first + UInt64.random(in: 1...500, using: &generator), for: object)
            case 2: queue.set(max(1, first / 2), for: object)
            default: queue.set(0, for: object)
            }
            if object.deadline != 0 { expected[ObjectIdentifier(object)] = object.deadline }
        }
        // Each deadline fires in the first loop iteration at or after it: never early, never an
        // iteration late (within one iteration, overdue objects may come in any order).
        var due: [Selectable] = []
        var previous: UInt64 = 0
        for now in stride(from: UInt64(0), through: 1600, by: 7) {
            queue.expire(now: now, into: &due)
            for object in due {
                #expect(object.deadline <= now && object.deadline > previous, "deadline \(object.deadline) fired at \(now)")
                #expect(expected.removeValue(forKey: ObjectIdentifier(object)) == object.deadline)
            }
            due.removeAll()
            previous = now
        }
        #expect(expected.isEmpty, "every live deadline fired once")
        #expect(queue.count == 0)
    }
}
