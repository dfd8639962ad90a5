import Foundation
import Glibc
import Testing

/// Request buffering: bodies up to a route's `request_buffer` are read whole before the
/// upstream hears of the request, so a slow upload holds no upstream connection and a body over
/// the limit never reaches it. Over plain HTTP and TLS.
@Suite struct RequestBufferingTests {
    let origin: Origin
    let gateway: GatewayUnderTest

    init() throws {
        origin = try Origin()
        gateway = try GatewayUnderTest(upstreams: [origin.port], extra: """
            [limits]
            max_body = "64KB"
            """, bothTransports: true)
    }

    @Test(arguments: Transport.allCases) func aSlowUploadReachesTheUpstreamOnlyWhenWhole(_ transport: Transport) throws {
        let client = try gateway.client(transport)
        let before = try origin.stats().requests
        try client.send("POST /digest HTTP/1.1\r\nHost: a\r\nContent-Length: 30000\r\n\r\n" + String(repeating: "a", count: 10000))
        usleep(300_000)
        try client.send(String(repeating: "b", count: 10000))
        usleep(300_000)
        #expect(try origin.stats().requests == before, "the upstream has not seen the request while its body trickles in")
        try client.send(String(repeating: "c", count: 10000))
        let response = try client.readResponse()
        #expect(response.status == 200 && response.text.hasPrefix("bytes=30000 "))
        #expect(try origin.stats().requests == before + 1)
    }

    @Test(arguments: Transport.allCases) func aChunkedBodyIsSentWithItsLength(_ transport: Transport) throws {
        let client = try gateway.client(transport)
        try client.send("POST /headers HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;x=y\r\n!!!\r\n0\r\nX-Trailer: t\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.status == 200)
        #expect(response.text.contains("Content-Length: 8\r\n") && !response.text.contains("Transfer-Encoding"))
        // The connection stays in step: the next request on it is answered.
        try client.send("POST /digest HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        let empty = try client.readResponse()
        #expect(empty.status == 200 && empty.text.hasPrefix("bytes=0 "))
    }

    @Test(arguments: Transport.allCases) func aChunkedBodyOverTheLimitNeverReachesTheUpstream(_ transport: Transport) throws {
        let before = try origin.stats().requests
        let client = try gateway.client(transport)
        try client.send("POST /digest HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n8000\r\n" + String(repeating: "x", count: 32768) + "\r\n")
        usleep(100_000)
        try? client.send("8001\r\n" + String(repeating: "y", count: 32769) + "\r\n0\r\n\r\n")
        #expect(try client.readResponse().status == 413)
        #expect(client.isClosedByPeer())
        #expect(try origin.stats().requests == before)
    }

    @Test(arguments: Transport.allCases) func expectContinueIsAnsweredBeforeBuffering(_ transport: Transport) throws {
        let client = try gateway.client(transport)
        try client.send("PUT /digest HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        #expect(try client.readResponse().status == 100)
        try client.send("abcd")
        let response = try client.readResponse()
        #expect(response.status == 200 && response.text.hasPrefix("bytes=4 "))
    }

    /// With the memory for buffered bodies spent, bodies stream instead: nothing waits or fails.
    @Test func pastTheMemoryCapBodiesStream() throws {
        let small = try GatewayUnderTest(upstreams: [origin.port], workers: 1, extra: """
            [limits]
            max_body = "64KB"
            request_buffer_memory = "16KB"
            """)
        let holder = try TestClient(port: small.port)
        try holder.send("POST /digest HTTP/1.1\r\nHost: a\r\nContent-Length: 16000\r\n\r\nheld")
        usleep(100_000)
        let before = try origin.stats().requests
        let client = try TestClient(port: small.port)
        try client.send("POST /digest HTTP/1.1\r\nHost: a\r\nContent-Length: 20000\r\n\r\n" + String(repeating: "s", count: 10000))
        #expect(small.child.waitFor(seconds: 5) { (try? origin.stats().requests) == before + 1 }, "streamed: the upstream sees it at once")
        try client.send(String(repeating: "s", count: 10000))
        #expect(try client.readResponse().text.hasPrefix("bytes=20000 "))
        #expect(try small.metric("portcullis_request_buffer_overflows_total") == 1)
        try holder.send(String(repeating: "h", count: 15996))
        #expect(try holder.readResponse().text.hasPrefix("bytes=16000 "))
    }
}
