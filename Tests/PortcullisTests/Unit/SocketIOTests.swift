@testable import Portcullis
import Foundation
import Glibc
import Testing

/// The socket calls under the loop: a signal in the middle of a read is not "no data", and a
/// buffer grows from nothing.
@Suite struct SocketIOTests {
    /// A read interrupted by a signal (handler without `SA_RESTART`) is retried: taken for
    /// EAGAIN it would leave an edge-triggered connection waiting for an edge that already came.
    @Test func aReadInterruptedByASignalIsRetried() throws {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        action.sa_flags = 0
        sigaction(SIGUSR2, &action, nil)
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        let outcome = Outcome()
        // A thread of our own with the signal unblocked (the test runner's threads may block it).
        let reader = Thread {
            var unblocked = sigset_t()
            sigemptyset(&unblocked)
            sigaddset(&unblocked, SIGUSR2)
            pthread_sigmask(SIG_UNBLOCK, &unblocked, nil)
            outcome.thread = pthread_self()
            outcome.started.signal()
            outcome.result = Socket.read(readEnd, into: outcome.buffer).0
            outcome.finished.signal()
        }
        reader.start()
        outcome.started.wait()
        usleep(50_000)
        pthread_kill(try #require(outcome.thread), SIGUSR2)
        usleep(100_000)
        _ = write(writeEnd, "late", 4)
        outcome.finished.wait()
        #expect(outcome.result == .bytes(4))
        #expect(outcome.buffer.bytes == Array("late".utf8))
    }

    private final class Outcome: @unchecked Sendable {
        var thread: pthread_t?
        var result: Socket.IOResult?
        let buffer = ByteBuffer(capacity: 64)
        /// Orders the reader's writes before the test's reads (visible to ThreadSanitizer too).
        let started = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
    }

    @Test func anEmptyBufferGrowsWhenWritten() {
        let empty = ByteBuffer(capacity: 0)
        empty.append(Array(repeating: 7, count: 1000))
        #expect(empty.readableCount == 1000 && empty.capacity >= 1000)
    }
}
