import Foundation
import Glibc
import Testing

/// Memory freed by connections goes back to the system: a gateway that held 1,000 TLS
/// connections returns to near its idle size once they close, and does not trim while they
/// are open (that memory is in use). The allocator under a sanitizer is the sanitizer's own,
/// which `malloc_trim` does not reach: skipped there.
@Suite(.disabled(if: Sanitizer.active, "a sanitizer's allocator is not glibc's")) struct HeapTrimmerTests {
    private static let connections = 1_000

    /// Raises this process' descriptor limit to its hard limit (the test holds 1,000 sockets).
    private func raiseDescriptorLimit() {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }

    @Test func freedConnectionMemoryIsReturnedOnceTheyClose() throws {
        raiseDescriptorLimit()
        let origin = try Origin()
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: "[limits]\nmax_connections_per_ip = 0\n", bothTransports: true)
        #expect(gateway.child.waitFor(seconds: 5) { gateway.child.lineCount(containing: "of start-up pages") > 0 })
        #expect(try gateway.get("/bytes/10").status == 200)
        let idle = gateway.child.memoryKiB().rss
        var held: [TestClient] = []
        for _ in 0..<Self.connections {
            let client = try gateway.client(.tls)
            try client.send("GET /bytes/100 HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try client.readResponse().status == 200)
            held.append(client)
        }
        let holding = gateway.child.memoryKiB().rss
        // Long enough for the trimmer to look at least once (every 10 s) while they are open.
        Thread.sleep(forTimeInterval: 11)
        #expect(gateway.child.lineCount(containing: "returned freed heap memory") == 0, "memory in use is not trimmed")

        held.removeAll()
        let returned = gateway.child.waitFor(seconds: 25) { gateway.child.lineCount(containing: "returned freed heap memory") > 0 }
        let after = gateway.child.memoryKiB().rss
        print("RSS idle \(idle) KiB, holding \(Self.connections) TLS connections \(holding) KiB, after they closed \(after) KiB")
        #expect(returned, "a trim once the connections closed")
        #expect(holding - idle > 8 << 10, "the connections took memory (\(holding - idle) KiB)")
        #expect(after < idle + (holding - idle) / 2, "at least half of what the connections took is back with the system")
        #expect(try gateway.get("/bytes/10").status == 200)
    }
}
