@testable import Portcullis
import Testing

/// Field lines pass to the next hop in their order, as received when they were sent as
/// `name: value\r\n` (copied in runs), otherwise in that form; dropped fields and the lines the
/// gateway writes itself land where they belong between runs.
@Suite struct FieldLineCopierTests {
    @Test func requestFieldsKeepTheirOrderAndGetTheNormalForm() {
        let raw = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB:2\r\nC:  3 \t\r\nConnection: close\r\nD: 4\r\nE:\r\nF: \r\nG:\tx\r\nX-Real-IP: 6.6.6.6\r\nH: 5\r\n\r\n"
        var head = RequestHead()
        #expect(parseStatus(raw, head: &head) == 0)
        let out = ByteBuffer(capacity: 512)
        Array(raw.utf8).withUnsafeBufferPointer { buffer in
            RequestHeadWriter.write(&head, from: buffer.baseAddress!, requestID: Array("rid".utf8).withUnsafeBufferPointer { RequestID($0) },
                                    context: ForwardingContext(peerIP: Array("203.0.113.9".utf8), scheme: "http", port: Array("80".utf8)),
                                    clientIP: Array("203.0.113.9".utf8), peerIsTrusted: false, paths: PathNormalizer(),
                                    hostFallback: Array("h".utf8), into: out)
        }
        let text = String(decoding: out.bytes, as: UTF8.self)
        #expect(text.hasPrefix("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: \r\nF: \r\nG: x\r\nH: 5\r\nX-Forwarded-For: 203.0.113.9\r\n"),
                "\(text)")
        #expect(!text.contains("6.6.6.6"))
    }

    @Test func responseFieldsKeepTheirOrderAroundAWeakenedETag() {
        let raw = "HTTP/1.1 200 OK\r\nA: 1\r\nServer: x\r\nETag: \"v1\"\r\nB:2\r\nC: 3\r\nContent-Length: 2\r\n\r\n"
        var head = ResponseHead()
        let bytes = Array(raw.utf8)
        let out = ByteBuffer(capacity: 512)
        bytes.withUnsafeBufferPointer { buffer in
            #expect(ResponseParser().parse(buffer, requestMethod: .get, into: &head) == .complete)
            let policy = ResponseHeaderPolicy(settings: .defaults, route: RouteHeaderSettings(profile: "none", add: [], remove: [], upstreamWins: nil))
            ResponseHeadWriter.write(&head, from: buffer.baseAddress!, requestID: Array("rid".utf8).withUnsafeBufferPointer { RequestID($0) },
                                     framing: .chunked, connection: .implicit,
                                     added: AddedFields(policy: policy, secure: false, rateLimit: [], date: []), gzip: true, into: out)
        }
        let text = String(decoding: out.bytes, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\nA: 1\r\nETag: W/\"v1\"\r\nB: 2\r\nC: 3\r\nX-Request-ID: rid\r\n"), "\(text)")
    }
}
