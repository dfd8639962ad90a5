@testable import Portcullis
import Testing

/// A relayed response's body on its way from the upstream's buffer to the client's
/// (`ResponseRelay`), with bytes alone: each upstream framing to each client framing, the
/// client's buffer held to its limit, the ways an upstream body goes wrong, and gzip
/// (whole bodies held until complete, streams flushed when the upstream pauses and given back).
@Suite struct ResponseRelayTests {
    /// One response in flight: the upstream's bytes go into `upstream`, the client's come out of
    /// `client`.
    private struct Flight {
        var codec = ResponseCodec()
        var relay: ResponseRelay<ResponseEncoder>
        let upstream = ByteBuffer(capacity: 64 * 1024)
        let client = ByteBuffer(capacity: 64 * 1024)
        let streams: GzipStreamPool

        /// Parses `head` (for a client of HTTP/1.`minorVersion`) and begins its body, gzipped when
        /// `gzip` is given and the response qualifies.
        init(head: String, minorVersion: Int = 1, gzip: GzipSettings? = nil, streams: GzipStreamPool = GzipStreamPool()) {
            self.streams = streams
            relay = ResponseRelay(streams: streams, metrics: WorkerMetrics())
            relay.encoder.start(clientMinorVersion: minorVersion)
            upstream.append(Array(head.utf8))
            #expect(codec.parseHead(upstream.readable, requestMethod: .get) == .complete)
            relay.begin(&codec)
            if let gzip {
                relay.startGzipIfQualifies(&codec, source: UnsafePointer(upstream.readPointer), requestMethod: .get, settings: gzip,
                                           mediaTypes: gzip.types.map { Array($0.utf8) })
            }
            upstream.consume(codec.head.headLength)
        }

        /// Feeds upstream bytes and relays; what the relay said.
        mutating func feed(_ bytes: [UInt8], ended: Bool = false, limit: Int = 64 * 1024) -> ResponseRelay<ResponseEncoder>.BodyStep {
            upstream.append(bytes)
            return relay.relayBody(&codec, from: upstream, upstreamEnded: ended, to: client, limit: limit)
        }

        mutating func feed(_ text: String, ended: Bool = false, limit: Int = 64 * 1024) -> ResponseRelay<ResponseEncoder>.BodyStep {
            feed(Array(text.utf8), ended: ended, limit: limit)
        }

        /// Takes what the client would receive.
        func received() -> [UInt8] {
            defer { client.clear() }
            return Array(client.bytes)
        }

        var done: Bool { codec.state == .done }
    }

    private static let json = Array(String(repeating: #"{"id": 7, "name": "user-7"}, "#, count: 300).utf8)
    private static let gzip = GzipSettings(enabled: true, level: 1, minLength: 100, types: ["application/json"], maxStreams: 1)

    /// Takes the chunk framing off `bytes` (`decodeChunked`): the body, or nil when the framing is
    /// wrong or the last chunk is missing.
    private func dechunk(_ bytes: [UInt8]) -> [UInt8]? {
        guard let (data, finished) = decodeChunked(bytes), finished else { return nil }
        return data
    }

    @Test func bodyOfKnownLengthGoesAsItIsAcrossReads() {
        var flight = Flight(head: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
        #expect(flight.feed("hello") == .moved(true) && !flight.done)
        #expect(flight.feed("") == .moved(false))
        #expect(flight.feed("world+next") == .moved(true) && flight.done)
        #expect(String(decoding: flight.received(), as: UTF8.self) == "helloworld")
        // Bytes past the body stay for whatever reads the upstream next.
        #expect(flight.upstream.readableCount == 5)
    }

    @Test func theClientsBufferIsHeldToItsLimit() {
        var flight = Flight(head: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", minorVersion: 0)
        #expect(flight.feed("40\r\n" + String(repeating: "x", count: 64) + "\r\n0\r\n\r\n", limit: 25) == .moved(true))
        #expect(flight.client.readableCount == 25 && !flight.done)
        #expect(flight.feed("", limit: 25) == .moved(false))
        var body = flight.received()
        while !flight.done {
            #expect(flight.feed("", limit: 25) == .moved(true))
            #expect(flight.client.readableCount <= 25)
            body += flight.received()
        }
        // An HTTP/1.0 client gets the body without chunks; it ends with the connection.
        #expect(body == Array(repeating: UInt8(ascii: "x"), count: 64))
        #expect(flight.relay.encoder.bodyEndsWithClose)
    }

    @Test func chunksAreReframedForAnHTTP11Client() {
        var flight = Flight(head: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(flight.feed("5;ext=1\r\nhello\r\n") == .moved(true))
        #expect(flight.feed("6\r\n worl") == .moved(true))
        #expect(flight.feed("d\r\n0\r\nTrailer: x\r\n\r\n") == .moved(true) && flight.done)
        #expect(String(decoding: flight.received(), as: UTF8.self) == "5\r\nhello\r\n5\r\n worl\r\n1\r\nd\r\n0\r\n\r\n")
    }

    @Test func aBodyThatEndsWithTheUpstreamsConnectionIsComplete() {
        var flight = Flight(head: "HTTP/1.0 200 OK\r\n\r\n")
        #expect(flight.feed("all of it") == .moved(true) && !flight.done)
        #expect(flight.feed("", ended: true) == .endedByClose && flight.done)
        #expect(dechunk(flight.received()) == Array("all of it".utf8))
    }

    @Test(arguments: [("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", "short"),
                      ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "5\r\nhello\r\n"),
                      ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "a\r\nhal"),
                      ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "5\r\nhello\r\n3")])
    func anUpstreamThatClosesEarlyTruncatesTheBody(head: String, body: String) {
        var flight = Flight(head: head)
        #expect(flight.feed(body) == .moved(true))
        #expect(flight.feed("", ended: true) == .truncated && !flight.done)
    }

    @Test func brokenChunkFramingIsNamed() {
        var flight = Flight(head: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        guard case .invalidChunk(let reason) = flight.feed("zz\r\nhello\r\n") else {
            Issue.record("a chunk size of zz was taken")
            return
        }
        #expect(!reason.isEmpty && !flight.done)
    }

    @Test func aWholeBodyIsHeldUntilItsLastByteThenGzippedInOneGo() throws {
        var flight = Flight(head: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(Self.json.count)\r\n\r\n", gzip: Self.gzip)
        #expect(flight.relay.gzip.holdsWholeBody && flight.relay.encoder.compressed)
        #expect(flight.feed(Array(Self.json.prefix(1000))) == .moved(false) && flight.client.isEmpty)
        #expect(flight.feed(Array(Self.json.dropFirst(1000))) == .moved(true) && flight.done)
        let compressed = try #require(dechunk(flight.received()))
        #expect(GzipReader.inflateAll(compressed) == Self.json && compressed.count < Self.json.count / 5)
        #expect(!flight.relay.gzip.isOn)
    }

    @Test func aWholeBodyCutShortIsTruncatedAndNothingLeft() {
        var flight = Flight(head: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(Self.json.count)\r\n\r\n", gzip: Self.gzip)
        #expect(flight.feed(Array(Self.json.prefix(1000)), ended: true) == .truncated)
        #expect(flight.client.isEmpty)
    }

    @Test func aStreamIsFlushedWhenTheUpstreamPausesAndGivenBackAtTheEnd() throws {
        let streams = GzipStreamPool()
        var flight = Flight(head: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", gzip: Self.gzip,
                            streams: streams)
        guard case .streaming = flight.relay.gzip else {
            Issue.record("a chunked JSON response is not streamed through zlib")
            return
        }
        #expect(streams.active == 1)
        let half = Self.json.count / 2
        #expect(flight.feed(Array("\(String(half, radix: 16))\r\n".utf8) + Self.json.prefix(half) + Array("\r\n".utf8)) == .moved(true))
        // The upstream paused: what zlib holds is flushed, so the client can inflate all it got.
        let first = flight.received()
        let reader = GzipReader()
        var inflated: [UInt8] = []
        reader.feed(try #require(dechunk(first + Array("0\r\n\r\n".utf8)))) { inflated += $0 }
        #expect(inflated == Array(Self.json.prefix(half)))
        let rest = Self.json.count - half
        #expect(flight.feed(Array("\(String(rest, radix: 16))\r\n".utf8) + Self.json.dropFirst(half) + Array("\r\n0\r\n\r\n".utf8)) == .moved(true))
        #expect(flight.done && streams.active == 0)
        let whole = try #require(dechunk(first + flight.received()))
        #expect(GzipReader.inflateAll(whole) == Self.json)
    }

    @Test func aStreamLeftInTheMiddleIsGivenBack() {
        let streams = GzipStreamPool()
        var flight = Flight(head: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n", gzip: Self.gzip, streams: streams)
        #expect(flight.feed(Self.json) == .moved(true) && streams.active == 1)
        flight.relay.releaseGzip()
        #expect(streams.active == 0 && !flight.relay.gzip.isOn)
        // With the one stream the settings allow in use, the next response goes uncompressed.
        var busy = Flight(head: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n", gzip: Self.gzip, streams: streams)
        let other = Flight(head: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n", gzip: Self.gzip, streams: streams)
        #expect(busy.relay.gzip.isOn && !other.relay.gzip.isOn && !other.relay.encoder.compressed)
        busy.relay.releaseGzip()
    }
}
