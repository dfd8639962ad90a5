@testable import Portcullis
import Testing

/// The client side of a relayed response (`ResponseEncoder`): the framing chosen for HTTP/1.1
/// and HTTP/1.0 clients, and the bytes it writes around upstream heads and bodies.
@Suite struct ResponseEncoderTests {
    /// Parses `raw` as an upstream head and runs `body` on it with its bytes.
    private func withHead<T>(_ raw: String, method: HTTPMethod = .get, _ body: (inout ResponseHead, UnsafePointer<UInt8>) -> T) -> T {
        var head = ResponseHead()
        return Array(raw.utf8).withUnsafeBufferPointer { bytes in
            #expect(ResponseParser().parse(bytes, requestMethod: method, into: &head) == .complete)
            return body(&head, bytes.baseAddress!)
        }
    }

    private let added = AddedFields(policy: ResponseHeaderPolicy(settings: .defaults, route: RouteHeaderSettings(profile: "none", add: [], remove: [], upstreamWins: nil)),
                                    secure: false, rateLimit: [], date: [])
    private let requestID = Array("rid".utf8).withUnsafeBufferPointer { RequestID($0) }

    /// The framing the client gets for an upstream head, from a client of `minorVersion`.
    private func framing(_ raw: String, method: HTTPMethod = .get, minorVersion: Int = 1, compressed: Bool = false) -> BodyFraming {
        withHead(raw, method: method) { head, _ in
            var encoder = ResponseEncoder()
            encoder.start(clientMinorVersion: minorVersion)
            encoder.begin(head)
            if compressed { encoder.compressing() }
            return encoder.framing
        }
    }

    private func text(_ out: ByteBuffer) -> String { String(decoding: out.bytes, as: UTF8.self) }

    @Test func framingFollowsTheUpstreamAndTheClientsVersion() {
        #expect(framing("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n") == .length(5))
        #expect(framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") == .chunked)
        #expect(framing("HTTP/1.1 200 OK\r\n\r\n") == .chunked)
        #expect(framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", minorVersion: 0) == .untilClose)
        #expect(framing("HTTP/1.1 200 OK\r\n\r\n", minorVersion: 0) == .untilClose)
        // A body-less answer keeps the length it announced, except a 204.
        #expect(framing("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", method: .head) == .length(9))
        #expect(framing("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n") == .length(9))
        #expect(framing("HTTP/1.1 204 No Content\r\n\r\n") == .none)
        // Compressed, the length is unknown.
        #expect(framing("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", compressed: true) == .chunked)
        #expect(framing("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", minorVersion: 0, compressed: true) == .untilClose)
    }

    @Test func aNewRequestForgetsTheLastFraming() {
        var encoder = ResponseEncoder()
        encoder.start(clientMinorVersion: 0)
        encoder.compressing()
        #expect(encoder.bodyEndsWithClose)
        encoder.start(clientMinorVersion: 1)
        #expect(encoder.framing == .none && !encoder.bodyEndsWithClose && !encoder.compressed && encoder.clientMinorVersion == 1)
    }

    @Test(arguments: [(1, true, ""), (0, true, "Connection: keep-alive\r\n"), (1, false, "Connection: close\r\n"), (0, false, "Connection: close\r\n")])
    func headSaysWhetherTheConnectionStays(minorVersion: Int, keepAlive: Bool, connectionLine: String) {
        let out = ByteBuffer(capacity: 512)
        withHead("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n") { head, source in
            var encoder = ResponseEncoder()
            encoder.start(clientMinorVersion: minorVersion)
            encoder.begin(head)
            encoder.writeHead(&head, from: source, requestID: requestID, keepAlive: keepAlive, added: added, into: out)
        }
        #expect(text(out) == "HTTP/1.1 200 OK\r\nX-Request-ID: rid\r\nContent-Length: 2\r\n\(connectionLine)\r\n")
    }

    @Test func chunkedBodyIsFramedAndEnded() {
        let out = ByteBuffer(capacity: 512)
        withHead("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") { head, source in
            var encoder = ResponseEncoder()
            encoder.start(clientMinorVersion: 1)
            encoder.begin(head)
            encoder.compressing()
            encoder.writeHead(&head, from: source, requestID: requestID, keepAlive: true, added: added, into: out)
            for piece in ["hello", "", "0123456789abcdef"] {
                Array(piece.utf8).withUnsafeBufferPointer { encoder.appendBody($0.baseAddress ?? source, count: $0.count, to: out) }
            }
            encoder.finishBody(to: out)
        }
        #expect(text(out) == "HTTP/1.1 200 OK\r\nX-Request-ID: rid\r\nContent-Encoding: gzip\r\nVary: Accept-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n")
    }

    @Test func bodyOfKnownLengthOrUntilCloseGoesAsItIs() {
        for (raw, minorVersion) in [("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 1), ("HTTP/1.1 200 OK\r\n\r\n", 0)] {
            let out = ByteBuffer(capacity: 64)
            withHead(raw) { head, _ in
                var encoder = ResponseEncoder()
                encoder.start(clientMinorVersion: minorVersion)
                encoder.begin(head)
                Array("hello".utf8).withUnsafeBufferPointer { encoder.appendBody($0.baseAddress!, count: 5, to: out) }
                encoder.finishBody(to: out)
            }
            #expect(text(out) == "hello")
        }
    }

    /// 103 Early Hints reach HTTP/1.1 clients only; 100 Continue never (the gateway answers it).
    @Test(arguments: [(103, 1, true), (103, 0, false), (100, 1, false)])
    func interimHeads(status: Int, minorVersion: Int, relayed: Bool) {
        let out = ByteBuffer(capacity: 256)
        withHead("HTTP/1.1 \(status) Interim\r\nLink: </a>\r\n\r\n") { head, source in
            var encoder = ResponseEncoder()
            encoder.start(clientMinorVersion: minorVersion)
            encoder.writeInterimHead(&head, from: source, requestID: requestID, added: added, into: out)
        }
        #expect(text(out) == (relayed ? "HTTP/1.1 103 Interim\r\nLink: </a>\r\nX-Request-ID: rid\r\n\r\n" : ""))
    }
}
