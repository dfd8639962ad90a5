/// Renders the workers' counters in the Prometheus text exposition format, summed over workers.
enum MetricsRenderer {
    static func render(_ samples: [MetricsSample], generation: Int, draining: Bool) -> String {
        guard let first = samples.first else { return "" }
        let total = samples.dropFirst().reduce(first, +)
        var text = ""
        func family(_ name: String, _ type: String, _ help: String) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        family("portcullis_responses_total", "counter", "Responses sent to clients, by status class.")
        for statusClass in 1...5 {
            text += "portcullis_responses_total{class=\"\(statusClass)xx\"} \(total.responsesByClass[statusClass])\n"
        }
        family("portcullis_active_connections", "gauge", "Client connections open now.")
        text += "portcullis_active_connections \(total.activeConnections)\n"
        family("portcullis_connections_accepted_total", "counter", "Client connections accepted.")
        text += "portcullis_connections_accepted_total \(total.acceptedConnections)\n"
        family("portcullis_upstream_errors_total", "counter", "Failed upstream exchanges, by kind.")
        for kind in UpstreamErrorKind.allCases {
            text += "portcullis_upstream_errors_total{kind=\"\(kind.label)\"} \(total.upstreamErrors[kind.rawValue])\n"
        }
        family("portcullis_workers", "gauge", "Worker threads.")
        text += "portcullis_workers \(samples.count)\n"
        family("portcullis_config_generation", "gauge", "Configuration generation served (1 at start, +1 per reload).")
        text += "portcullis_config_generation \(generation)\n"
        family("portcullis_draining", "gauge", "1 while the gateway drains before stopping.")
        text += "portcullis_draining \(draining ? 1 : 0)\n"
        return text
    }
}
