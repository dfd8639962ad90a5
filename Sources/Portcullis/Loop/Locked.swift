import Glibc

/// A value behind a `pthread_mutex_t`, for the little state threads share (rate-limit shards,
/// audit queues, mailboxes, per-address connection counts).
///
/// In place of the standard library's `Mutex`: on Linux that one locks with futexes in an
/// uninstrumented library, so ThreadSanitizer sees no ordering between critical sections and
/// reports every one of them as a race. pthread mutexes are intercepted by the sanitizers, so
/// `make sanitize` checks what these locks protect; uncontended, they cost the same.
final class Locked<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// In a slot of its own (`OwnedSlot`): the mutex already makes every access exclusive, and
    /// as a stored property each `withLock` paid the runtime's exclusivity check on top.
    private let slot: OwnedSlot<Value>

    init(_ value: Value) {
        slot = OwnedSlot(value)
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        slot.free()
    }

    /// Runs `body` with the value, no other thread holding it meanwhile.
    @inline(__always)
    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&slot.value)
    }
}
