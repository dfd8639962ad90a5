/// Renders the workers' counters in the Prometheus text exposition format, summed over workers.
enum MetricsRenderer {
    static func render(_ workers: [WorkerMetrics], shared: GatewayShared, generation: Int, draining: Bool, certificates: [TLSContext],
                       auditDropped: Int) -> String {
        let samples = workers.map { $0.snapshot() }
        guard let first = samples.first else { return "" }
        let total = samples.dropFirst().reduce(first, +)
        let decisions = shared.rateLimitDecisions.values()
        var text = ""
        /// One histogram summed over workers, cumulative buckets as Prometheus wants them.
        func histogram(_ name: String, _ help: String, _ parts: [Histogram]) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
            var cumulative = 0
            for (index, bound) in (Histogram.bounds.map { String($0) } + ["+Inf"]).enumerated() {
                cumulative += parts.reduce(0) { $0 + $1.buckets[index].value }
                text += "\(name)_bucket{le=\"\(bound)\"} \(cumulative)\n"
            }
            let micros = parts.reduce(0) { $0 + $1.sumMicroseconds.value }
            text += "\(name)_sum \(Double(micros) / 1_000_000)\n\(name)_count \(parts.reduce(0) { $0 + $1.count.value })\n"
        }
        /// One metric family: its help and type lines, then one line per (labels, value).
        func family(_ name: String, _ type: String, _ help: String, _ series: [(String, Int)]) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in series {
                text += labels.isEmpty ? "\(name) \(value)\n" : "\(name){\(labels)} \(value)\n"
            }
        }
        family("portcullis_responses_total", "counter", "Responses sent to clients, by status class.",
               (1...5).map { ("class=\"\($0)xx\"", total.responsesByClass[$0]) })
        family("portcullis_route_responses_total", "counter", "Responses by route (host, path prefix, methods) and status class.",
               shared.routeResponses.values().flatMap { route, counts in
                   (1...5).map { ("route=\(JSONText.quoted(route)),class=\"\($0)xx\"", counts[$0]) }
               })
        func sum(_ counter: (WorkerMetrics) -> Counter) -> Int { workers.reduce(0) { $0 + counter($1).value } }
        family("portcullis_bytes_received_total", "counter", "Bytes read from clients.", [("", sum(\.bytesIn))])
        family("portcullis_bytes_sent_total", "counter", "Bytes written to clients.", [("", sum(\.bytesOut))])
        family("portcullis_requests_too_large_total", "counter", "Requests refused with 413.", [("", sum(\.requestsTooLarge))])
        family("portcullis_request_buffer_overflows_total", "counter", "Bodies streamed because request_buffer_memory was in use.",
               [("", sum(\.requestBufferOverflows))])
        family("portcullis_gzip_bytes_total", "counter", "Response body bytes before (in) and after (out) gzip.",
               [("stage=\"in\"", sum(\.gzipBytesIn)), ("stage=\"out\"", sum(\.gzipBytesOut))])
        family("portcullis_rate_limit_decisions_total", "counter", "Rate-limit decisions by rule.",
               decisions.flatMap { rule, counts in
                   [("rule=\(JSONText.quoted(rule)),decision=\"admitted\"", counts[0]), ("rule=\(JSONText.quoted(rule)),decision=\"rejected\"", counts[1])]
               })
        family("portcullis_redis_ready_connections", "gauge", "Workers whose Redis connection is ready now.",
               [("", shared.redisHealth.readyConnections)])
        family("portcullis_redis_errors_total", "counter", "Failed Redis syncs and strict checks.", [("", sum(\.redisErrors))])
        histogram("portcullis_request_duration_seconds", "From a complete request head to the end of the response.", workers.map(\.requestDuration))
        histogram("portcullis_upstream_duration_seconds", "From the request sent upstream to the upstream's response head.",
                  workers.map(\.upstreamDuration))
        histogram("portcullis_redis_sync_duration_seconds", "Round trips of batched rate-limit syncs.", workers.map(\.redisSyncDuration))
        family("portcullis_active_connections", "gauge", "Client connections open now.", [("", total.activeConnections)])
        family("portcullis_connections_accepted_total", "counter", "Client connections accepted.", [("", total.acceptedConnections)])
        family("portcullis_accept_pauses_total", "counter", "Times accepting stopped: at max_connections, or out of file descriptors.",
               [("", sum(\.acceptPauses))])
        family("portcullis_connections_over_address_limit_total", "counter",
               "Connections closed at accept because their address had max_connections_per_ip open.", [("", sum(\.connectionsOverAddressLimit))])
        family("portcullis_tls_handshakes_total", "counter", "Completed TLS handshakes.", [("", total.tlsHandshakes)])
        family("portcullis_tls_handshake_failures_total", "counter", "Failed or timed-out TLS handshakes.",
               [("", total.tlsHandshakeFailures)])
        family("portcullis_blocked_total", "counter", "Refused by the IP blocklist: connections at accept, requests after parsing.",
               [("stage=\"connection\"", total.blockedConnections), ("stage=\"request\"", total.blockedRequests)])
        family("portcullis_rate_limited_total", "counter", "Requests refused with 429 (the rejections of every rule).",
               [("", decisions.reduce(0) { $0 + $1.1[1] })])
        family("portcullis_certificate_expiry_timestamp_seconds", "gauge", "End of validity of each served certificate.",
               certificates.map { ("name=\"\($0.names.first ?? $0.serial)\",serial=\"\($0.serial)\"", $0.notAfter) })
        family("portcullis_upstream_errors_total", "counter", "Failed upstream exchanges, by kind.",
               UpstreamErrorKind.allCases.map { ("kind=\"\($0.label)\"", total.upstreamErrors[$0.rawValue]) })
        family("portcullis_audit_events_dropped_total", "counter", "Audit events dropped because a worker's queue was full.",
               [("", auditDropped)])
        family("portcullis_workers", "gauge", "Worker threads.", [("", samples.count)])
        family("portcullis_config_generation", "gauge", "Configuration generation served (1 at start, +1 per reload).",
               [("", generation)])
        family("portcullis_draining", "gauge", "1 while the gateway drains before stopping.", [("", draining ? 1 : 0)])
        return text
    }
}
