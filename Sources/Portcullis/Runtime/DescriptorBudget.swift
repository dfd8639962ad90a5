import Glibc

/// The process's file-descriptor limit and what it leaves for client connections. At start the
/// soft limit is raised to the hard one (as nginx's `worker_rlimit_nofile` would, but without
/// having to ask); `max_connections = 0` then takes half of what remains once descriptors are
/// set aside for listeners, loops, Redis, the admin listener and log files, because every client
/// connection may hold an upstream connection too.
enum DescriptorBudget {
    /// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the limit before and after.
    @discardableResult
    static func raiseToHardLimit() -> (before: Int, after: Int) {
        var limits = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0 else { return (0, 0) }
        let before = Int(limits.rlim_cur)
        guard limits.rlim_cur < limits.rlim_max else { return (before, before) }
        var raised = limits
        raised.rlim_cur = limits.rlim_max
        guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 else { return (before, before) }
        return (before, Int(raised.rlim_cur))
    }

    /// The current soft limit.
    static var currentLimit: Int {
        var limits = rlimit()
        return getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0 ? Int(min(limits.rlim_cur, UInt(Int32.max))) : 1024
    }

    /// Descriptors set aside for everything but client and upstream connections.
    static func reserved(workers: Int, listeners: Int) -> Int {
        64 + workers * (listeners + 4)
    }

    /// `max_connections` when the configuration leaves it at 0.
    static func defaultMaxConnections(workers: Int, listeners: Int) -> Int {
        max((currentLimit - reserved(workers: workers, listeners: listeners)) / 2, workers)
    }
}

extension GatewayConfig {
    /// `max_connections`, derived from the descriptor limit when the configuration says 0.
    var effectiveMaxConnections: Int {
        maxConnections > 0 ? maxConnections : DescriptorBudget.defaultMaxConnections(workers: server.workers, listeners: listeners.count)
    }
}
