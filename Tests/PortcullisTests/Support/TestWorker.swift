@testable import Portcullis

extension Worker {
    /// A worker outside any gateway (its loop run, or not, by the test) whose one route goes to
    /// the upstream pool `app` over `servers` on 127.0.0.1; `upstreamOptions` are added to the
    /// pool's table.
    static func forTests(servers: [UInt16], upstreamOptions: String = "") throws -> Worker {
        let list = servers.map { "\"127.0.0.1:\($0)\"" }.joined(separator: ", ")
        let text = """
            [[listeners]]
            address = "127.0.0.1:18080"

            [[upstreams]]
            name = "app"
            servers = [\(list)]
            \(upstreamOptions)

            [[routes]]
            upstream = "app"
            allow_http = true
            """
        let config = try ConfigLoader.parse(text: text, file: "test.toml", environment: [:])
        let shared = GatewayShared(maxRateLimitKeys: config.rateLimiting.maxKeys)
        let snapshot = GatewaySnapshot(config: config, generation: 1, certificates: nil, shared: shared)
        return try Worker(index: 0, snapshot: snapshot, shared: shared, blocklist: .empty, listenerSockets: [],
                          mailbox: try Mailbox(), control: try Mailbox(), audit: AuditQueue(capacity: 64), accessLog: nil,
                          metrics: WorkerMetrics())
    }

    /// Closes the idle upstream connections and lets go of everything the loop holds.
    func releaseForTests() {
        for pool in pools {
            for server in pool.servers {
                while let idle = server.takeIdle() { idle.close() }
            }
        }
        loop.releaseAll()
    }
}
