import Glibc

/// `GET /admin/status`: what `portcullis status` shows on one screen — version, uptime,
/// workers, connections, configuration generation, certificates and their expiry, Redis,
/// the blocklist and recent audit events by type.
enum StatusReport {
    /// Recent audit events are counted over this window.
    static let recentMinutes = 15

    static func json(_ gateway: Gateway) -> [String: any Sendable] {
        let samples = gateway.metrics.map { $0.snapshot() }
        let now = Int(time(nil))
        let certificates = (gateway.certificates?.contexts ?? []).map { context -> [String: any Sendable] in
            ["names": context.names, "serial": context.serial, "not_after": UTCTime.rfc3339(Int64(context.notAfter)),
             "days_left": (context.notAfter - now) / 86_400]
        }
        let redis = gateway.redisSettings
        var report: [String: any Sendable] = [
            "version": LinkedLibraries.portcullisVersion,
            "pid": Int(getpid()),
            "uptime_seconds": Int((MonotonicClock.now() - gateway.startedAt) / 1_000_000_000),
            "workers": samples.count,
            "config_generation": gateway.configGeneration,
            "draining": gateway.draining,
            "listeners": gateway.listenerURLs,
            "admin": gateway.adminSettings.address.text,
            "connections": ["active": samples.reduce(0) { $0 + $1.activeConnections }, "accepted": samples.reduce(0) { $0 + $1.acceptedConnections }],
            "certificates": certificates,
            "blocklist": ["entries": gateway.blocklist.count, "file": gateway.blocklist.path] as [String: any Sendable],
            "redis": redis.endpoint == nil ? ["configured": false] as [String: any Sendable] : [
                "configured": true, "cluster": redis.isCluster, "endpoints": redis.endpoints.map(\.description),
                "ready_connections": gateway.shared.redisHealth.readyConnections, "on_redis_failure": redis.onFailure.rawValue,
            ],
        ]
        if let audit = gateway.audit {
            let since = audit.now() - Int64(recentMinutes) * 60_000
            report["audit"] = ["since_start": audit.tally.sinceStart, "last_\(recentMinutes)_minutes": audit.tally.since(milliseconds: since),
                               "dropped": audit.dropped] as [String: any Sendable]
        }
        return report
    }
}
