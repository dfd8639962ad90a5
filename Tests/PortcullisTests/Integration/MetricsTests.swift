import Foundation
import Testing

/// The Prometheus metrics through the real binary: per route and status class, bytes, latency
/// histograms, rate-limit decisions per rule, requests too large, gzip before and after.
@Suite struct MetricsTests {
    @Test func countsWhatHappened() throws {
        let origin = try Origin()
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: """
            [limits]
            max_body = "1KB"
            [[routes]]
            path_prefix = "/text"
            upstream = "app"
            [[rate_limits]]
            name = "two"
            match = "/text/*"
            limit = 2
            window = "1m"
            """, routesFirst: false)
        for _ in 0..<3 { _ = try gateway.get("/text/5000", headers: ["Accept-Encoding": "gzip"]) }
        _ = try gateway.get("/bytes/10")
        let client = try TestClient(port: gateway.port)
        try client.send("POST /bytes/1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n")
        #expect(try client.readResponse().status == 413)

        #expect(try gateway.metric("portcullis_route_responses_total{route=\"/text\",class=\"2xx\"}") == 2)
        #expect(try gateway.metric("portcullis_route_responses_total{route=\"/text\",class=\"4xx\"}") == 1)
        #expect(try gateway.metric("portcullis_route_responses_total{route=\"/\",class=\"2xx\"}") == 1)
        #expect(try gateway.metric("portcullis_rate_limit_decisions_total{rule=\"two\",decision=\"admitted\"}") == 2)
        #expect(try gateway.metric("portcullis_rate_limit_decisions_total{rule=\"two\",decision=\"rejected\"}") == 1)
        #expect(try gateway.metric("portcullis_requests_too_large_total") == 1)
        #expect(try gateway.metric("portcullis_gzip_bytes_total{stage=\"in\"}") == 10_000)
        let gzipOut = try gateway.metric("portcullis_gzip_bytes_total{stage=\"out\"}") ?? 0
        #expect(gzipOut > 0 && gzipOut < 5000)
        #expect(try gateway.metric("portcullis_request_duration_seconds_count") == 5)
        #expect(try gateway.metric("portcullis_request_duration_seconds_bucket{le=\"+Inf\"}") == 5)
        #expect(try gateway.metric("portcullis_upstream_duration_seconds_count") == 3)
        #expect((try gateway.metric("portcullis_bytes_received_total") ?? 0) > 200)
        #expect((try gateway.metric("portcullis_bytes_sent_total") ?? 0) > 1000)
    }
}
