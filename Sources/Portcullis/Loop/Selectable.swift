/// Anything registered with an `EventLoop`: a file descriptor plus the callbacks the loop
/// invokes for readiness events and for a deadline that has passed.
///
/// Subclasses (listeners, client and upstream connections, mailboxes) override
/// `handleEvents(_:)` and, if they use deadlines, `deadlineReached()`.
/// Dispatch goes through the class vtable: no existential boxes on the hot path.
open class Selectable {
    /// The file descriptor; -1 once closed. (Internal, not public: see `ByteBuffer`.)
    var fd: Int32
    /// Bumped by the loop at every registration, packed into `epoll_event.data.u64`, so an event
    /// for a closed-and-reused descriptor is recognised and dropped.
    var registrationGeneration: UInt32 = 0
    /// The `EPOLL*` bits this object is registered for.
    var interest: UInt32 = 0
    /// When this object wants `deadlineReached()` (monotonic ns); 0 means no deadline.
    var deadline: UInt64 = 0
    /// The time the loop's deadline queue has this object scheduled at (0: not queued).
    var scheduledDeadline: UInt64 = 0
    /// Where this object is in the deadline queue's heap (-1: not there).
    var heapIndex = -1

    public init(fd: Int32) {
        self.fd = fd
    }

    /// Called by the loop with the `EPOLL*` bits that fired.
    open func handleEvents(_ events: UInt32) {}

    /// Called by the loop once `deadline` has passed.
    open func deadlineReached() {}
}
