import CShims
import Glibc

/// A queue of messages from other threads to one event loop, woken through an `eventfd`.
///
/// The control thread posts immutable snapshots and stop requests; the owning loop drains the
/// queue when the eventfd becomes readable. Posting never blocks on the receiver.
public final class Mailbox<Message: Sendable>: Sendable {
    private let queue = Locked<[Message]>([])
    /// The eventfd the receiving loop watches.
    let eventFD: Int32

    public init() throws {
        eventFD = eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC))
        guard eventFD >= 0 else { throw SystemError("eventfd") }
    }

    deinit {
        close(eventFD)
    }

    /// Queues `message` and wakes the receiving loop.
    public func post(_ message: Message) {
        queue.withLock { $0.append(message) }
        var one: UInt64 = 1
        _ = Glibc.write(eventFD, &one, 8)
    }

    /// Takes every queued message (receiver side).
    func drain() -> [Message] {
        var counter: UInt64 = 0
        _ = Glibc.read(eventFD, &counter, 8)
        return queue.withLock { messages in
            defer { messages.removeAll() }
            return messages
        }
    }
}

/// Registers a `Mailbox` with a loop and hands each message to `deliver`.
final class MailboxReceiver<Message: Sendable>: Selectable {
    private let mailbox: Mailbox<Message>
    private let deliver: (Message) -> Void

    init(_ mailbox: Mailbox<Message>, loop: EventLoop, deliver: @escaping (Message) -> Void) throws {
        self.mailbox = mailbox
        self.deliver = deliver
        super.init(fd: dup(mailbox.eventFD))
        try loop.register(self, events: EventLoop.readEvents)
    }

    override func handleEvents(_ events: UInt32) {
        for message in mailbox.drain() { deliver(message) }
    }
}
