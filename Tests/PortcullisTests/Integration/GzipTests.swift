import Foundation
import Testing

/// gzip through the real binary: what the client inflates is exactly what the origin sent, for
/// Content-Length and chunked origins from 0 bytes to 10 MB; Accept-Encoding q-values; the
/// responses that must stay as they are; 100 MB with bounded memory; over plain HTTP and TLS.
@Suite struct GzipTests {
    let origin: Origin
    let gateway: GatewayUnderTest

    init() throws {
        origin = try Origin()
        gateway = try GatewayUnderTest(upstreams: [origin.port], extra: """
            [[routes]]
            path_prefix = "/set-headers"
            upstream = "app"
            security_headers = "none"
            allow_http = true

            [[routes]]
            path_prefix = "/textchunked/77"
            upstream = "app"
            gzip = false
            allow_http = true
            """, bothTransports: true, routesFirst: false)
    }

    private func get(_ path: String, acceptEncoding: String? = "gzip", method: String = "GET", over transport: Transport = .plain) throws -> TestResponse {
        let client = try gateway.client(transport)
        let accept = acceptEncoding.map { "Accept-Encoding: \($0)\r\n" } ?? ""
        try client.send("\(method) \(path) HTTP/1.1\r\nHost: a\r\n\(accept)\r\n")
        return try client.readResponse(head: method == "HEAD")
    }

    @Test(arguments: Transport.allCases, [0, 1, 999, 1000, 4096, 32 << 10, (32 << 10) + 1, 70_001, 1 << 20, 10 << 20])
    func inflatesToTheOriginsBytes(_ transport: Transport, size: Int) throws {
        for kind in ["text", "textchunked"] {
            let expected = try TestClient.get(port: origin.port, "/\(kind)/\(size)").body
            let response = try get("/\(kind)/\(size)", over: transport)
            #expect(response.status == 200)
            let compressed = kind == "textchunked" || size >= 1000
            #expect(response.header("Content-Encoding") == (compressed ? "gzip" : nil), "\(kind) \(size)")
            if compressed {
                #expect(response.header("Content-Length") == nil && response.header("Vary") == "Accept-Encoding")
                #expect(GzipReader.inflateAll(response.body) == expected, "\(kind) \(size): inflated bytes differ")
                if size > 4096 { #expect(response.body.count < expected.count / 3, "it compresses") }
            } else {
                #expect(response.body == expected)
            }
        }
    }

    /// A body of known length up to 32 KiB waits until it is whole and leaves in one call to the
    /// compressor, so as one chunk, however the origin sends it (here in pieces 100 ms apart);
    /// one byte longer, it streams, flushed at every pause.
    @Test(arguments: Transport.allCases)
    func boundedBodiesAreCompressedWholeLongerOnesStream(_ transport: Transport) throws {
        for (size, whole) in [(32 << 10, true), ((32 << 10) + 1, false)] {
            let expected = try TestClient.get(port: origin.port, "/text/\(size)").body
            let response = try get("/text/\(size)?piece=8192&pause=100", over: transport)
            #expect(response.header("Content-Encoding") == "gzip" && GzipReader.inflateAll(response.body) == expected, "\(size)")
            #expect(whole ? response.chunkCount == 1 : response.chunkCount > 1, "\(size): \(response.chunkCount) chunks")
        }
    }

    @Test func acceptEncodingIsHonoured() throws {
        let cases: [(String?, Bool)] = [
            (nil, false), ("gzip", true), ("gzip;q=0", false), ("identity", false), ("br", false), ("*", true),
            ("*;q=0", false), ("deflate, gzip;q=0.5", true), ("gzip;q=0, *", false), ("GZIP", true), ("x-gzip", true),
        ]
        for (header, compressed) in cases {
            let response = try get("/text/5000", acceptEncoding: header)
            #expect((response.header("Content-Encoding") == "gzip") == compressed, "Accept-Encoding: \(header ?? "(none)")")
        }
    }

    @Test func someResponsesStayAsTheyAre() throws {
        #expect(try get("/bytes/5000").header("Content-Encoding") == nil, "type not listed")
        #expect(try get("/textchunked/77").header("Content-Encoding") == nil, "the route turns gzip off")
        #expect(try get("/textchunked/78").header("Content-Encoding") == "gzip", "other chunked text is compressed")
        #expect(try get("/text/5000?no-transform").header("Content-Encoding") == nil, "Cache-Control: no-transform")
        #expect(try get("/text/5000", method: "HEAD").header("Content-Encoding") == nil, "HEAD")
        #expect(try get("/status/204").header("Content-Encoding") == nil)
        let encoded = try get("/set-headers?Content-Encoding=br&Content-Length-Hint=1")
        #expect(encoded.header("Content-Encoding") == "br", "already encoded: passed through")
        #expect(try get("/text/5000").header("ETag") == "W/\"v5000\"", "a strong ETag becomes weak")
        #expect(try get("/text/5000", acceptEncoding: nil).header("ETag") == "\"v5000\"")
    }

    /// Compressed, a body's length is unknown: an HTTP/1.0 client, which cannot read chunks, gets
    /// it delimited by the end of the connection, whether it was whole (32 KiB at most) or
    /// streamed.
    @Test(arguments: Transport.allCases) func http10ClientGetsTheCompressedBodyUntilClose(_ transport: Transport) throws {
        for size in [5000, 70_001] {
            let client = try gateway.client(transport)
            try client.send("GET /text/\(size) HTTP/1.0\r\nHost: a\r\nAccept-Encoding: gzip\r\nConnection: keep-alive\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 200 && response.header("Content-Encoding") == "gzip" && !response.wasChunked, "\(size)")
            #expect(response.header("Content-Length") == nil && response.header("Connection") == "close", "\(size)")
            #expect(GzipReader.inflateAll(response.body) == (try TestClient.get(port: origin.port, "/text/\(size)").body), "\(size)")
            #expect(client.isClosedByPeer())
        }
    }

    /// `min_length = 0`: an empty body has nothing to compress and goes as it is (it once got a
    /// gzip framing with no end and hung the connection), and the next response on the
    /// connection is compressed on its own.
    @Test(arguments: Transport.allCases) func anEmptyBodyIsNotCompressed(_ transport: Transport) throws {
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: "[gzip]\nmin_length = 0\n", bothTransports: true)
        let client = try gateway.client(transport, timeoutSeconds: 5)
        for (size, compressed) in [(0, false), (10, true), (0, false), (3000, true)] {
            try client.send("GET /text/\(size) HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 200 && (response.header("Content-Encoding") == "gzip") == compressed, "\(size)")
            let body = compressed ? GzipReader.inflateAll(response.body) : response.body
            #expect(body == (try TestClient.get(port: origin.port, "/text/\(size)").body), "\(size)")
        }
    }

    @Test(arguments: Transport.allCases) func hundredMegabytesWithBoundedMemory(_ transport: Transport) throws {
        let block = try TestClient.get(port: origin.port, "/text/65536").body
        let before = gateway.child.memoryKiB().peak
        let client = try gateway.client(transport, timeoutSeconds: 60)
        try client.send("GET /textchunked/\(Sanitizer.largeBody) HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.header("Content-Encoding") == "gzip")
        let reader = GzipReader()
        var offset = 0
        var matches = true
        reader.feed(response.body) { piece in
            for (index, byte) in piece.enumerated() where byte != block[(offset + index) % block.count] { matches = false }
            offset += piece.count
        }
        #expect(reader.finished && matches && offset == Sanitizer.largeBody, "inflated \(offset) bytes")
        let growthMiB = Double(gateway.child.memoryKiB().peak - before) / 1024
        print("gzip 100 MB over \(transport): gateway peak memory grew \(String(format: "%.1f", growthMiB)) MiB")
        #expect(Sanitizer.active || growthMiB < 16)
    }
}
