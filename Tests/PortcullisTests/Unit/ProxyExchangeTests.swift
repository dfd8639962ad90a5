@testable import Portcullis
import CZlib
import Glibc
import Testing

/// The exchange driven by a client that is not a connection: no socket, no TLS, no HTTP/1.1
/// connection phases; only what `ExchangeClient` names. The request path, the upstream binding,
/// the relay and the failure path run for real, on a real worker's loop, against the real demo
/// origin. This is the seam an HTTP/2 stream would use: if a phase of the exchange reached into
/// `ClientConnection`, this client could not drive it.
@Suite(.serialized) struct ProxyExchangeTests {
    /// A client that is only bytes: the request is placed in `input` (its body handed in
    /// `piece` bytes at a time by `readClient`), and what the exchange flushes is collected in
    /// `received`, framed by `Framing`.
    private final class ByteClient<Framing: ResponseFraming>: ExchangeClient {
        let worker: Worker
        let exchange: ProxyExchange<ByteClient>
        private let requestSlot: OwnedSlot<RequestCodec>
        var request: RequestCodec {
            unsafeAddress { UnsafePointer(requestSlot.pointer) }
            unsafeMutableAddress { requestSlot.pointer }
        }
        let input = ByteBuffer(capacity: 64 * 1024)
        let output = ByteBuffer(capacity: 64 * 1024)
        var bytesFlushed: Int64 = 0
        var clientGone = false
        var isOpen = true
        let peerAddress = IPAddress("192.0.2.7")!
        let forwarding = ForwardingContext(peerIP: Array("192.0.2.7".utf8), scheme: "http", port: Array("18080".utf8))
        let localHost = Array("gateway.test".utf8)
        var requestProgressAt: UInt64 = 0
        var responseProgressAt: UInt64 = 0
        /// What left for the client.
        var received: [UInt8] = []
        /// How the exchange ended (nil while it runs): whether the client may send another request.
        var endedWithKeepAlive: Bool?
        /// Body bytes not yet handed to the exchange, and how many `readClient` hands in at once.
        var pendingBody: [UInt8] = []
        var piece = 4096

        init(worker: Worker) {
            self.worker = worker
            exchange = ProxyExchange(worker: worker, secure: false)
            requestSlot = OwnedSlot(RequestCodec(limits: worker.snapshot.config.limits))
        }

        deinit { requestSlot.free() }

        func readClient() -> Bool {
            guard !pendingBody.isEmpty else { return false }
            let count = min(piece, pendingBody.count)
            input.append(Array(pendingBody.prefix(count)))
            pendingBody.removeFirst(count)
            return true
        }

        func flushClient() -> Bool {
            guard !output.isEmpty else { return false }
            received += output.bytes
            bytesFlushed += Int64(output.readableCount)
            output.clear()
            return true
        }

        func drive() {
            while isOpen, endedWithKeepAlive == nil, exchange.advance(for: self) {}
            _ = flushClient()
            if endedWithKeepAlive != nil || !isOpen { worker.loop.stop() }
        }

        func close() {
            isOpen = false
            exchange.abandon(now: worker.loop.now)
        }

        func exchangeEnded(keepAlive: Bool) {
            endedWithKeepAlive = keepAlive
        }

        func startTunnel() {}

        func writeAnswer(_ answer: LocalAnswer, requestID: RequestID, keepAlive: Bool, headOnly: Bool, added: AddedFields) {
            GatewayResponse.write(answer, requestID: requestID, keepAlive: keepAlive, headOnly: headOnly, added: added, into: output)
        }

        /// Hands `head` (and later `body`) to the exchange and runs the worker's loop until the
        /// exchange ends, or for 5 s at most.
        func send(_ head: String, body: [UInt8] = []) throws {
            received.removeAll()
            endedWithKeepAlive = nil
            input.append(Array(head.utf8))
            pendingBody = body
            guard case .complete = request.parseHead(input.readable) else { throw HarnessError("the head does not parse: \(head)") }
            exchange.start(for: self)
            drive()
            if endedWithKeepAlive == nil && isOpen {
                let alarm = Alarm(loop: worker.loop, delay: 5_000_000_000) { [worker] in worker.loop.stop() }
                worker.loop.run()
                alarm.cancel(on: worker.loop)
            }
            _ = flushClient()
        }

        /// The status code of what the client received.
        var status: Int { Int(String(decoding: received.drop { $0 != ASCII.space }.dropFirst().prefix(3), as: UTF8.self)) ?? 0 }
        /// What the client received after the head.
        var body: [UInt8] {
            guard let end = received.firstRange(of: Array("\r\n\r\n".utf8)) else { return [] }
            return Array(received[end.upperBound...])
        }
        var head: String { String(decoding: received.prefix(received.count - body.count), as: UTF8.self).lowercased() }
    }

    /// A response framing that is not HTTP/1.x: a status line, then the body's bytes as they
    /// are, the way an HTTP/2 stream's DATA frames carry them. What a client with it receives
    /// shows that the body's framing on the way out is the client's, not the exchange's.
    private struct RawFraming: ResponseFraming {
        mutating func start(clientMinorVersion: Int) {}
        mutating func begin(_ head: ResponseHead) {}
        mutating func compressing() {}
        var bodyEndsWithClose: Bool { false }

        func writeHead(_ head: inout ResponseHead, from source: UnsafePointer<UInt8>, requestID: RequestID, keepAlive: Bool, added: AddedFields,
                       into out: ByteBuffer) {
            out.append(string: "RAW \(head.status)\r\n\r\n")
        }

        func writeInterimHead(_ head: inout ResponseHead, from source: UnsafePointer<UInt8>, requestID: RequestID, added: AddedFields,
                              into out: ByteBuffer) {}
        func writeSwitchingProtocols(_ head: inout ResponseHead, from source: UnsafePointer<UInt8>, requestID: RequestID, added: AddedFields,
                                     into out: ByteBuffer) {}

        func appendBody(_ bytes: UnsafePointer<UInt8>, count: Int, to out: ByteBuffer) {
            out.append(bytes, count: count)
        }

        func finishBody(to out: ByteBuffer) {}
    }

    /// The demo origin, a worker whose route goes to it, and a client of that worker's exchanges
    /// whose responses are framed by `framing`.
    private static func started<Framing: ResponseFraming>(framing: Framing.Type = ResponseEncoder.self) throws
        -> (Origin, Worker, ByteClient<Framing>) {
        let origin = try Origin()
        let worker = try Worker.forTests(servers: [origin.port])
        return (origin, worker, ByteClient(worker: worker))
    }

    @Test func responsesOfKnownLengthAndChunkedAreRelayedAndTheUpstreamIsReused() throws {
        let (origin, worker, client) = try Self.started()
        defer { worker.releaseForTests() }

        try client.send("GET /bytes/100 HTTP/1.1\r\nHost: app.test\r\n\r\n")
        #expect(client.endedWithKeepAlive == true)
        #expect(client.status == 200 && client.body.count == 100, "\(client.head)")
        #expect(client.head.contains("content-length: 100\r\n") && client.head.contains("x-request-id: "))
        #expect(client.head.contains("x-content-type-options: nosniff"), "the route's header policy is applied")
        #expect(client.input.isEmpty, "the head was consumed")

        try client.send("GET /chunked/10000 HTTP/1.1\r\nHost: app.test\r\n\r\n")
        #expect(client.endedWithKeepAlive == true)
        let decoded = try #require(decodeChunked(client.body), "a chunked response stays chunked for an HTTP/1.1 client")
        #expect(decoded.finished && decoded.data.count == 10000)
        // The second connection the origin counts is the one `stats()` asks on.
        #expect(try origin.stats().connections == 2, "the second exchange reused the first one's upstream connection")
    }

    @Test func aClientWithAnotherFramingGetsTheBodyInItsOwn() throws {
        let (origin, worker, client) = try Self.started(framing: RawFraming.self)
        defer { worker.releaseForTests() }

        try client.send("GET /chunked/10000 HTTP/1.1\r\nHost: app.test\r\n\r\n")
        #expect(client.endedWithKeepAlive == true)
        #expect(client.head == "raw 200\r\n\r\n", "the head is the client's framing's")
        let unframed = client.body == (0..<10000).map { UInt8(ascii: "a") + UInt8($0 % 26) }
        #expect(unframed, "the upstream's chunks are taken off, and none are put on: \(client.body.count) bytes, \(client.body.prefix(8))")
        try client.send("GET /bytes/300 HTTP/1.1\r\nHost: app.test\r\n\r\n")
        #expect(client.status == 200 && client.body.count == 300)
        #expect(try origin.stats().connections == 2, "the upstream connection was reused after a body re-framed by the client")
    }

    @Test func aBodyHandedInPiecesReachesTheUpstreamWhole() throws {
        let (origin, worker, client) = try Self.started()
        defer { worker.releaseForTests() }
        let body = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let crc = body.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }

        client.piece = 1000
        try client.send("POST /digest HTTP/1.1\r\nHost: app.test\r\nContent-Length: \(body.count)\r\n\r\n", body: body)
        #expect(client.endedWithKeepAlive == true)
        #expect(String(decoding: client.body, as: UTF8.self) == "bytes=100000 crc32=\(crc)\n", "\(client.head)")
    }

    @Test func theRequestPathAnswersWithoutAnUpstream() throws {
        let (origin, worker, client) = try Self.started()
        defer { worker.releaseForTests() }

        try client.send("TRACE / HTTP/1.1\r\nHost: app.test\r\n\r\n")
        #expect(client.status == 405 && client.endedWithKeepAlive == true, "\(client.head)")
        try client.send("GET /bytes/10 HTTP/1.1\r\nHost: app.test\r\nContent-Length: 2000000\r\n\r\n")
        #expect(client.status == 413 && client.endedWithKeepAlive == false, "a body left unread ends the client: \(client.head)")
        #expect(try origin.stats().requests == 0, "nothing reached the upstream")
    }

    @Test func anUpstreamThatIsNotThereIsA502AndEndsTheClient() throws {
        let closed = ClosedPort()
        let worker = try Worker.forTests(servers: [closed.port])
        defer { worker.releaseForTests() }
        let client = ByteClient<ResponseEncoder>(worker: worker)

        try client.send("GET / HTTP/1.1\r\nHost: app.test\r\n\r\n")
        #expect(client.status == 502 && client.endedWithKeepAlive == false, "\(client.head)")
        #expect(String(decoding: client.body, as: UTF8.self).contains("\"status\":502"))
        #expect(worker.metrics.upstreamErrors[UpstreamErrorKind.connectFailed.rawValue].value == 1)
    }
}
