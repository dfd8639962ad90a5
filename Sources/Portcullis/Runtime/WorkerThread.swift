import CShims
import Glibc
import Synchronization

/// A joinable POSIX thread running one closure; `hasFinished` lets the control thread poll.
final class WorkerThread: Sendable {
    private let handle: Locked<pthread_t?> = Locked(nil)
    private let finished = Atomic<Bool>(false)

    /// True once the closure has returned.
    var hasFinished: Bool { finished.load(ordering: .acquiring) }

    /// Starts `body` on a new thread.
    init(name: String, _ body: @escaping @Sendable () -> Void) throws {
        let box = Unmanaged.passRetained(ThreadBody(name: name, body: body, finished: self))
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { argument in
            let box = Unmanaged<ThreadBody>.fromOpaque(argument!).takeRetainedValue()
            cshims_set_thread_name(box.name)
            box.body()
            box.finished.finished.store(true, ordering: .releasing)
            return nil
        }, box.toOpaque())
        guard status == 0 else {
            box.release()
            throw SystemError("pthread_create", code: status)
        }
        handle.withLock { $0 = thread }
    }

    /// Waits for the thread to end.
    func join() {
        guard let thread = handle.withLock({ $0 }) else { return }
        pthread_join(thread, nil)
    }

    private final class ThreadBody {
        let name: String
        let body: @Sendable () -> Void
        let finished: WorkerThread

        init(name: String, body: @escaping @Sendable () -> Void, finished: WorkerThread) {
            self.name = name
            self.body = body
            self.finished = finished
        }
    }
}
