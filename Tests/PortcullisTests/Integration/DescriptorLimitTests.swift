import Foundation
import Glibc
import Testing

/// A gateway out of file descriptors stops accepting instead of spinning: little CPU, one log
/// line per worker for the episode, a metric, and service again over both transports as soon
/// as connections close.
@Suite struct DescriptorLimitTests {
    @Test func outOfDescriptorsPausesAcceptingAndResumes() throws {
        let origin = try Origin()
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: "[timeouts]\nclient_header = \"60s\"\n[limits]\nmax_connections = 100000\n",
                                           bothTransports: true,
                                           fileLimit: 128)
        // max_connections set far above what 128 descriptors allow, so accept(2) itself fails.
        // More idle connections than the gateway has descriptors: the rest wait in the backlog.
        var held: [TestClient] = []
        for _ in 0..<300 { held.append(try TestClient(port: gateway.port)) }
        #expect(gateway.child.waitForLine(containing: "not accepting until connections close", seconds: 10) != nil, "\(gateway.child.output)")

        let before = gateway.child.cpuSeconds()
        usleep(1_000_000)
        let spent = gateway.child.cpuSeconds() - before
        #expect(spent < 0.25, "the gateway used \(spent) s of CPU in 1 s while out of descriptors")
        #expect(gateway.child.lineCount(containing: "not accepting") <= 2, "one line per worker and episode")

        held.removeAll()
        for transport in Transport.allCases {
            let client = try gateway.client(transport)
            try client.send("GET /bytes/100000 HTTP/1.1\r\nHost: a\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 200 && response.body.count == 100_000, "\(transport) after the shortage")
        }
        #expect(gateway.child.waitForLine(containing: "accepting again after", seconds: 10) != nil)
        #expect(try gateway.metric("portcullis_accept_pauses_total") ?? 0 >= 1)
        // The descriptor limit is the process's: while one worker's backlog empties the other may
        // still hold most of them, so a worker can start a second episode. One line per
        // episode: a new start only ever follows an end.
        let starts = gateway.child.lineCount(containing: "not accepting")
        let ends = gateway.child.lineCount(containing: "accepting again after")
        #expect(starts <= ends + 2, "\(starts) starts, \(ends) ends")
    }
}
