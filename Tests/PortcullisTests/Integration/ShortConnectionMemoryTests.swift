import Foundation
import Glibc
import Testing

/// Memory stays flat under short connections (one request, `Connection: close`) over both
/// transports: what a connection allocates is given back when it closes. `make soak` runs the
/// same check for a million connections on the release build.
@Suite struct ShortConnectionMemoryTests {
    /// Opens `count` short connections from four client threads.
    private func shortConnections(_ count: Int, to gateway: GatewayUnderTest, over transport: Transport) {
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<(count / 4) {
                do {
                    let client = try gateway.client(transport)
                    try client.send("GET /bytes/100 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                    _ = try client.readResponse()
                } catch {
                    Issue.record("\(transport) short connection: \(error)")
                    return
                }
            }
        }
    }

    @Test(arguments: [(Transport.plain, 20_000), (Transport.tls, 3_000)])
    func memoryStaysFlat(_ transport: Transport, connections: Int) throws {
        let origin = try Origin()
        let gateway = try GatewayUnderTest(upstreams: [origin.port], bothTransports: true)
        shortConnections(connections / 10, to: gateway, over: transport)
        let baseline = gateway.child.memoryKiB().rss
        let started = Date()
        shortConnections(connections, to: gateway, over: transport)
        let growthMiB = Double(gateway.child.memoryKiB().rss - baseline) / 1024
        let rate = Double(connections) / Date().timeIntervalSince(started)
        print("\(transport): \(connections) short connections at \(Int(rate))/s, RSS grew \(String(format: "%.1f", growthMiB)) MiB")
        #expect(Sanitizer.active || growthMiB < 8, "RSS grew \(growthMiB) MiB over \(connections) short \(transport) connections")
        #expect(try gateway.metric("portcullis_active_connections") == 0)
    }
}
