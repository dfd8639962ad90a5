/// Renders the workers' counters in the Prometheus text exposition format, summed over workers.
enum MetricsRenderer {
    static func render(_ samples: [MetricsSample], generation: Int, draining: Bool, certificates: [TLSContext], auditDropped: Int) -> String {
        guard let first = samples.first else { return "" }
        let total = samples.dropFirst().reduce(first, +)
        var text = ""
        /// One metric family: its help and type lines, then one line per (labels, value).
        func family(_ name: String, _ type: String, _ help: String, _ series: [(String, Int)]) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in series {
                text += labels.isEmpty ? "\(name) \(value)\n" : "\(name){\(labels)} \(value)\n"
            }
        }
        family("portcullis_responses_total", "counter", "Responses sent to clients, by status class.",
               (1...5).map { ("class=\"\($0)xx\"", total.responsesByClass[$0]) })
        family("portcullis_active_connections", "gauge", "Client connections open now.", [("", total.activeConnections)])
        family("portcullis_connections_accepted_total", "counter", "Client connections accepted.", [("", total.acceptedConnections)])
        family("portcullis_tls_handshakes_total", "counter", "Completed TLS handshakes.", [("", total.tlsHandshakes)])
        family("portcullis_tls_handshake_failures_total", "counter", "Failed or timed-out TLS handshakes.",
               [("", total.tlsHandshakeFailures)])
        family("portcullis_blocked_total", "counter", "Refused by the IP blocklist: connections at accept, requests after parsing.",
               [("stage=\"connection\"", total.blockedConnections), ("stage=\"request\"", total.blockedRequests)])
        family("portcullis_rate_limited_total", "counter", "Requests refused with 429.", [("", total.rateLimitedRequests)])
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
