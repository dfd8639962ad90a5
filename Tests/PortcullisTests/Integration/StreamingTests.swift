import Foundation
import Glibc
import Testing

/// Bodies are streamed, never buffered whole: 100 MB up and 100 MB down through one connection
/// at the same time, over plain HTTP and TLS, while the gateway's memory stays flat.
@Suite(.serialized) struct StreamingTests {
    @Test(arguments: Transport.allCases) func hundredMegabytesBothWaysInBoundedMemory(_ transport: Transport) throws {
        let origin = try Origin()
        let gateway = try GatewayUnderTest(upstreams: [origin.port], workers: 1, extra: "[limits]\nmax_body = \"1GB\"\n", bothTransports: true)
        let warmup = try gateway.client(transport)
        try warmup.send("GET /bytes/10 HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try warmup.readResponse().status == 200)
        let baseline = gateway.child.memoryKiB().rss
        #expect(baseline > 1000, "could not read the gateway's memory")
        let total = Sanitizer.largeBody
        let client = try gateway.client(transport, timeoutSeconds: 60)
        try client.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: \(total)\r\n\r\n")

        // The body goes out while the echo comes back, on this one thread.
        let block = [UInt8](repeating: 0x5A, count: 64 * 1024)
        var sent = 0
        let reader = BodyReader(client: client)
        reader.upload = {
            guard sent < total else { return nil }
            let piece = Array(block.prefix(total - sent))
            sent += piece.count
            return piece
        }
        var received = 0
        var allMatch = true
        let head = try reader.readHead()
        #expect(head.hasPrefix("HTTP/1.1 200"))
        do {
            _ = try reader.readChunked { chunk in
                received += chunk.count
                if allMatch && !chunk.allSatisfy({ $0 == 0x5A }) { allMatch = false }
            }
        } catch {
            Issue.record("\(error) after \(received) bytes; gateway log:\n\(gateway.child.output)\norigin log:\n\(origin.child.output)")
        }
        #expect(received == total)
        #expect(allMatch)
        let peakGrowthMiB = Double(gateway.child.memoryKiB().peak - baseline) / 1024
        #expect(Sanitizer.active || peakGrowthMiB < 64, "peak RSS grew by \(peakGrowthMiB) MiB")
        print("100 MB each way over \(transport): gateway peak RSS grew by \(peakGrowthMiB) MiB over a \(baseline / 1024) MiB baseline")
    }
}
