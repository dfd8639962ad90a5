/// One upstream server as seen by one worker: its idle keep-alive connections and its passive
/// health (consecutive failures within `fail_timeout` take it out of rotation for that long).
/// Survives reloads as long as the server stays in the configuration.
final class UpstreamServer {
    let address: SocketAddress
    /// The value for a `Host` field when the client sent none (HTTP/1.0).
    let hostBytes: [UInt8]
    private(set) var idle: [UpstreamConnection] = []
    private var failures = 0
    private var firstFailureAt: UInt64 = 0
    private var downUntil: UInt64 = 0

    init(address: SocketAddress) {
        self.address = address
        hostBytes = Array(address.text.utf8)
    }

    /// False while the server is marked down after `maxFails` failures.
    func isAvailable(now: UInt64) -> Bool {
        downUntil == 0 || now >= downUntil
    }

    /// Records a failed connect, timeout or broken response.
    func recordFailure(now: UInt64, policy: UpstreamSettings) {
        guard policy.maxFails > 0 else { return }
        if failures == 0 || now - firstFailureAt > policy.failTimeout {
            failures = 0
            firstFailureAt = now
        }
        failures += 1
        if failures >= policy.maxFails {
            downUntil = now + policy.failTimeout
            failures = 0
        }
    }

    /// Records a good response: the failure count starts again.
    @inline(__always)
    func recordSuccess() {
        if failures != 0 || downUntil != 0 {
            failures = 0
            downUntil = 0
        }
    }

    /// The most recently used idle connection, if any.
    @inline(__always)
    func takeIdle() -> UpstreamConnection? {
        // The list is moved out for each change (`MovableOut`): a change may free or grow it.
        var list = moveOut(&idle)
        let connection = list.popLast()
        idle = consume list
        return connection
    }

    /// Parks a connection for reuse; false (and the caller closes it) when the pool is full.
    @inline(__always)
    func park(_ connection: UpstreamConnection, limit: Int) -> Bool {
        guard idle.count < limit else { return false }
        var list = moveOut(&idle)
        list.append(connection)
        idle = consume list
        return true
    }

    /// Forgets an idle connection that closed or timed out.
    func remove(_ connection: UpstreamConnection) {
        guard let index = idle.firstIndex(where: { $0 === connection }) else { return }
        var list = moveOut(&idle)
        list.remove(at: index)
        idle = consume list
    }
}

/// An upstream pool on one worker for one snapshot: its settings and servers, with the
/// round-robin position.
final class UpstreamPool {
    let settings: UpstreamSettings
    let servers: [UpstreamServer]
    private var next = 0

    init(settings: UpstreamSettings, servers: [UpstreamServer]) {
        self.settings = settings
        self.servers = servers
    }

    /// The next available server in round-robin order, skipping `excluding` (already tried).
    func pick(now: UInt64, excluding tried: UpstreamServer? = nil) -> UpstreamServer? {
        let count = servers.count
        for offset in 0..<count {
            let server = servers[(next + offset) % count]
            if server !== tried && server.isAvailable(now: now) {
                next = (next + offset + 1) % count
                return server
            }
        }
        return nil
    }
}
