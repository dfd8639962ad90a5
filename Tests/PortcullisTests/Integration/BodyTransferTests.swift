import CZlib
import Foundation
import Glibc
import Testing

/// Bodies of every size that matters cross the gateway whole, over plain HTTP and TLS: around
/// TLS's 16 KiB records and the gateway's buffer sizes, delivered by the upstream in one write
/// and in small writes, read by a fast and by a slow client (small receive buffer, small reads,
/// pauses), as Content-Length and chunked responses; and uploaded in large writes, in many small
/// writes sent at once (over TLS: many small records arriving together) and by a slow sender.
@Suite struct BodyTransferTests {
    static let sizes = [0, 1, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 32 * 1024 - 1, 32 * 1024, 32 * 1024 + 1, 1 << 20]

    let origin: Origin
    let gateway: GatewayUnderTest

    init() throws {
        origin = try Origin()
        gateway = try GatewayUnderTest(upstreams: [origin.port], extra: "[limits]\nmax_body = \"200MB\"\n", bothTransports: true)
    }

    /// A reader that is fast (large reads) or slow (a 4 KiB receive buffer, 2 KiB reads, a pause
    /// before each), so the gateway meets back-pressure.
    private func reader(_ transport: Transport, slow: Bool) throws -> (TestClient, BodyReader) {
        let client = try TestClient(port: gateway.port(for: transport), transport: transport, timeoutSeconds: 20,
                                    receiveBufferBytes: slow ? 4096 : 0)
        return (client, slow ? BodyReader(client: client, readSize: 2048, pause: 200) : BodyReader(client: client))
    }

    @Test(arguments: Transport.allCases) func downloadsOfEverySize(_ transport: Transport) throws {
        for kind in ["bytes", "chunked"] {
            for delivery in ["", "?piece=1000"] {
                for slow in [false, true] {
                    // One keep-alive connection for every size: framing must stay in sync too.
                    let (client, reader) = try reader(transport, slow: slow)
                    for size in Self.sizes {
                        let label = "\(transport) /\(kind)/\(size)\(delivery) \(slow ? "slow" : "fast") reader"
                        try client.send("GET /\(kind)/\(size)\(delivery) HTTP/1.1\r\nHost: a\r\n\r\n")
                        var offset = 0
                        var intact = true
                        do {
                            let head = try reader.readHead()
                            #expect(head.hasPrefix("HTTP/1.1 200"), "\(label): \(head)")
                            _ = try reader.readBody(head: head) { piece in
                                if intact && !BodyPattern.matches(piece, at: offset) { intact = false }
                                offset += piece.count
                            }
                        } catch {
                            Issue.record("\(label): \(error) after \(offset) bytes")
                            return
                        }
                        #expect(offset == size && intact, "\(label): \(offset) bytes, intact: \(intact)")
                    }
                }
            }
        }
    }

    /// How a test client sends a request body: writes of this size, with this pause after each.
    struct Sender: CustomStringConvertible {
        let pieceSize: Int
        let pause: useconds_t
        var description: String { "\(pieceSize)-byte writes" + (pause > 0 ? " \(pause) µs apart" : " at once") }
        static let all = [Sender(pieceSize: 256 * 1024, pause: 0), Sender(pieceSize: 1000, pause: 0), Sender(pieceSize: 4096, pause: 200)]
    }

    /// A slow reader of a body the origin writes at once: the gateway holds at most its buffer
    /// caps, not the body (found when the 100 MB full-duplex test once grew RSS by 117 MiB).
    @Test(arguments: Transport.allCases) func aSlowReaderCostsOnlyTheBufferCaps(_ transport: Transport) throws {
        let size = 20 << 20
        let (client, reader) = try reader(transport, slow: true)
        let baseline = gateway.child.memoryKiB().rss
        try client.send("GET /bytes/\(size) HTTP/1.1\r\nHost: a\r\n\r\n")
        let head = try reader.readHead()
        var offset = 0
        var peakGrowthKiB = 0
        _ = try reader.readBody(head: head) { piece in
            offset += piece.count
            if offset % (1 << 20) < piece.count { peakGrowthKiB = max(peakGrowthKiB, gateway.child.memoryKiB().rss - baseline) }
            // Past the first mebibyte, read faster: the point is the slow start.
            if offset > 1 << 20 { reader.speedUp() }
        }
        #expect(offset == size)
        #expect(Sanitizer.active || peakGrowthKiB < 8 * 1024, "\(transport): RSS grew \(peakGrowthKiB / 1024) MiB while a slow client read 20 MiB")
    }

    @Test(arguments: Transport.allCases) func uploadsOfEverySize(_ transport: Transport) throws {
        for chunked in [false, true] {
            for sender in Sender.all {
                let client = try gateway.client(transport, timeoutSeconds: 20)
                for size in Self.sizes {
                    let label = "\(transport) upload of \(size) \(chunked ? "chunked" : "with a length") in \(sender)"
                    let body = BodyPattern.bytes(size)
                    let framing = chunked ? "Transfer-Encoding: chunked" : "Content-Length: \(size)"
                    try client.send("POST /digest HTTP/1.1\r\nHost: a\r\n\(framing)\r\n\r\n")
                    var offset = 0
                    while offset < size {
                        let piece = Array(body[offset..<min(offset + sender.pieceSize, size)])
                        try client.send(chunked ? Array("\(String(piece.count, radix: 16))\r\n".utf8) + piece + [13, 10] : piece)
                        offset += piece.count
                        if sender.pause > 0 { usleep(sender.pause) }
                    }
                    if chunked { try client.send("0\r\n\r\n") }
                    let response = try client.readResponse()
                    let crc = body.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
                    #expect(response.status == 200 && response.text == "bytes=\(size) crc32=\(crc)\n", "\(label): \(response.status) \(response.text)")
                }
            }
        }
    }

    @Test(arguments: Transport.allCases) func hundredMebibytesEachWay(_ transport: Transport) throws {
        let size = Sanitizer.largeBody
        for delivery in ["", "?piece=65536"] {
            let (client, reader) = try reader(transport, slow: false)
            try client.send("GET /bytes/\(size)\(delivery) HTTP/1.1\r\nHost: a\r\n\r\n")
            var offset = 0
            var intact = true
            let head = try reader.readHead()
            #expect(head.hasPrefix("HTTP/1.1 200"))
            _ = try reader.readBody(head: head) { piece in
                if intact && !BodyPattern.matches(piece, at: offset) { intact = false }
                offset += piece.count
            }
            #expect(offset == size && intact, "\(transport) 100 MiB\(delivery): \(offset) bytes, intact: \(intact)")
        }
        let client = try gateway.client(transport, timeoutSeconds: 60)
        try client.send("POST /digest HTTP/1.1\r\nHost: a\r\nContent-Length: \(size)\r\n\r\n")
        let block = BodyPattern.bytes(26 * 4096)
        var crc = crc32(0, nil, 0)
        var sent = 0
        while sent < size {
            let count = min(block.count, size - sent)
            try block.withUnsafeBytes { try client.send(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            crc = block.withUnsafeBufferPointer { crc32(crc, $0.baseAddress, uInt(count)) }
            sent += count
        }
        let response = try client.readResponse()
        #expect(response.text == "bytes=\(size) crc32=\(crc)\n", "\(transport) 100 MiB upload: \(response.status) \(response.text)")
    }
}
