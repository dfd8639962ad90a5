import Glibc

/// What a worker does when it may not take more connections: at its share of `max_connections`,
/// or when `accept(2)` runs out of descriptors (EMFILE, ENFILE, or the kernel out of memory for
/// sockets). It stops accepting instead of retrying in a busy loop.
///
/// The listeners stay open (new clients wait in the kernel's backlog) but leave the epoll set;
/// they come back as soon as one of the worker's connections closes, or after a second in case
/// the descriptors are held elsewhere. The episode is logged once when it starts and once when
/// it ends (when the backlog has been drained with no shortage), and counted in
/// `portcullis_accept_pauses_total`.
struct AcceptPause {
    /// Accepting is off now.
    fileprivate(set) var paused = false
    /// When the shortage began (0: none); ends once the backlog is drained.
    fileprivate(set) var since: UInt64 = 0
    /// Times accepting was paused in this episode.
    fileprivate var pauses = 0
    /// A shortage episode is open (paused now, or the backlog not drained since).
    var inShortage: Bool { since != 0 }

    /// How long a pause lasts when none of our connections closes meanwhile.
    static let retryAfter: UInt64 = 1_000_000_000
}

extension Worker {
    /// `accept` failed with `error`: pause on a descriptor shortage. True when it was one.
    func acceptFailed(_ error: Int32, on listener: Listener) -> Bool {
        guard error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM else { return false }
        pauseAccepting(on: listener, reason: "accept: \(String(cString: strerror(error)))")
        return true
    }

    /// True (and accepting paused) when the worker holds its share of `max_connections`.
    func atConnectionLimit(_ listener: Listener) -> Bool {
        guard connectionCount >= snapshot.connectionShare else { return false }
        pauseAccepting(on: listener, reason: "max_connections \(snapshot.maxConnections) reached")
        return true
    }

    private func pauseAccepting(on listener: Listener, reason: @autoclosure () -> String) {
        guard !acceptPause.paused else { return }
        acceptPause.paused = true
        acceptPause.pauses += 1
        for each in listeners { loop.setInterest(0, for: each) }
        loop.setDeadline(loop.now + AcceptPause.retryAfter, for: listener)
        if !acceptPause.inShortage {
            acceptPause.since = loop.now
            metrics.acceptPauses.add(1)
            log.error("\(reason()): not accepting until connections close (\(connectionCount) open on this worker)")
        }
    }

    /// A connection closed or the retry time came: listen again (pending clients are reported
    /// at once, the listeners being level-triggered).
    func resumeAccepting() {
        guard acceptPause.paused, !draining else { return }
        acceptPause.paused = false
        for listener in listeners {
            loop.setInterest(EventLoop.readEvents, for: listener)
            loop.setDeadline(0, for: listener)
        }
    }

    /// A listener's backlog is empty with no shortage: the episode, if any, is over.
    func acceptBacklogDrained() {
        guard acceptPause.inShortage, !acceptPause.paused else { return }
        let seconds = Double(loop.now - acceptPause.since) / 1e9
        log.notice("accepting again after \(String(format: "%.1f", seconds)) s (\(acceptPause.pauses) pause(s))")
        acceptPause.since = 0
        acceptPause.pauses = 0
    }
}
