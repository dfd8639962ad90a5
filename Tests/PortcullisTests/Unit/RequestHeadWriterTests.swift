@testable import Portcullis
import Testing

@Suite struct RequestHeadWriterTests {
    private func forward(_ raw: String, clientIP: String = "203.0.113.9", peerIsTrusted: Bool = false) -> String {
        var head = RequestHead()
        #expect(parseStatus(raw, head: &head) == 0)
        let bytes = Array(raw.utf8)
        let out = ByteBuffer(capacity: 256)
        bytes.withUnsafeBufferPointer { buffer in
            RequestHeadWriter.write(&head, from: buffer.baseAddress!, requestID: Array("rid-1".utf8).withUnsafeBufferPointer { RequestID($0) },
                                    context: ForwardingContext(peerIP: Array(clientIP.utf8), scheme: "http", port: Array("8080".utf8)),
                                    clientIP: Array(clientIP.utf8), peerIsTrusted: peerIsTrusted, paths: PathNormalizer(), hostFallback: Array("127.0.0.1:8080".utf8), into: out)
        }
        return String(decoding: out.bytes, as: UTF8.self)
    }

    @Test func removesHopByHopAndConnectionListedFields() {
        let text = forward("GET /a?b HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Private\r\nKeep-Alive: 5\r\nX-Private: secret\r\nTE: trailers\r\nProxy-Authorization: x\r\nUpgrade: h2c\r\nAccept: */*\r\n\r\n")
        #expect(text.hasPrefix("GET /a?b HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n"))
        for removed in ["Connection", "Keep-Alive", "X-Private", "TE:", "Proxy-Authorization", "Upgrade"] {
            #expect(!text.contains(removed), "\(removed) must not be forwarded")
        }
    }

    @Test func setsForwardingFieldsAndDropsClientForgeries() {
        let text = forward("GET / HTTP/1.1\r\nHost: shop.example\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\nX-Real-IP: 1.1.1.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil\r\nX-Forwarded-Port: 1\r\n\r\n")
        #expect(text.contains("X-Forwarded-For: 10.0.0.1, 10.0.0.2, 203.0.113.9\r\n"))
        #expect(text.contains("X-Forwarded-Proto: http\r\n"))
        #expect(text.contains("X-Forwarded-Host: shop.example\r\n"))
        #expect(text.contains("X-Forwarded-Port: 8080\r\n"))
        #expect(text.contains("X-Real-IP: 203.0.113.9\r\n"))
        #expect(text.contains("X-Request-ID: rid-1\r\n"))
        #expect(!text.contains("1.1.1.1") && !text.contains("evil") && !text.contains("https"))
    }

    @Test func reframesBodies() {
        let chunked = forward("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n")
        #expect(chunked.contains("Transfer-Encoding: chunked\r\n"))
        #expect(!chunked.contains("Expect"))
        let sized = forward("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0005\r\n\r\n")
        #expect(sized.contains("Content-Length: 5\r\n"))
        #expect(sized.hasSuffix("\r\n\r\n"))
    }

    @Test func keepsWebSocketUpgrade() {
        let text = forward("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\n\r\n")
        #expect(text.contains("Upgrade: websocket\r\n"))
        #expect(text.contains("Connection: upgrade\r\n"))
        #expect(text.contains("Sec-WebSocket-Key: k\r\n"))
    }

    @Test func addsHostForHTTP10() {
        let text = forward("GET / HTTP/1.0\r\n\r\n")
        #expect(text.contains("Host: 127.0.0.1:8080\r\n"))
        #expect(text.hasPrefix("GET / HTTP/1.1\r\n"))
    }

    @Test func removesAnH2cUpgradeAndItsSettings() {
        let text = forward("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n\r\n")
        #expect(!text.contains("h2c") && !text.contains("HTTP2-Settings") && !text.contains("Upgrade") && !text.contains("Connection"))
        let unlisted = forward("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n\r\n")
        #expect(!unlisted.contains("h2c") && !unlisted.contains("HTTP2-Settings"))
    }

    @Test func hostIsTheAbsoluteFormAuthority() {
        let text = forward("GET http://a.example/x HTTP/1.1\r\nHost: b.example\r\n\r\n")
        #expect(text.hasPrefix("GET /x HTTP/1.1\r\n"))
        #expect(text.contains("Host: a.example\r\n"))
        #expect(text.contains("X-Forwarded-Host: a.example\r\n"))
        #expect(!text.contains("b.example"))
    }

    @Test func forwardedIsKeptOnlyFromATrustedProxy() {
        let raw = "GET / HTTP/1.1\r\nHost: h\r\nForwarded: for=6.6.6.6;proto=https\r\n\r\n"
        #expect(!forward(raw).contains("6.6.6.6"))
        #expect(forward(raw, peerIsTrusted: true).contains("Forwarded: for=6.6.6.6;proto=https\r\n"))
    }
}
