@testable import Portcullis
import Testing

/// The MUSTs and MUST NOTs of RFC 9110 and RFC 9112 that bind the gateway as a server or a
/// proxy, one row each with the section it comes from. Rows the request parser decides are
/// checked here on the parser; rows about what is forwarded, on the head writer. Requirements
/// that need a connection (keep-alive, `Connection: close`, 100-continue, 405 `Allow`, `Date`)
/// are checked through the binary in ProxyTests, HostileRequestTests and RequestBufferingTests.
@Suite struct RFCRequirementTests {
    /// A requirement the parser enforces: the raw head and the status it must get (0 = accepted).
    struct ParserRow: CustomTestStringConvertible, Sendable {
        let section: String
        let requirement: String
        let raw: String
        let status: Int
        var testDescription: String { "\(section): \(requirement)" }
    }

    static let parserRows: [ParserRow] = [
        ParserRow(section: "9112 §2.2", requirement: "a bare CR is rejected", raw: "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", status: 400),
        ParserRow(section: "9112 §2.2", requirement: "whitespace before the first field line is rejected",
                  raw: "GET / HTTP/1.1\r\n Host: a\r\n\r\n", status: 400),
        ParserRow(section: "9112 §2.2", requirement: "a leading empty line is ignored", raw: "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", status: 0),
        ParserRow(section: "9112 §2.3", requirement: "a major version other than 1 is refused (505)", raw: "GET / HTTP/2.0\r\nHost: a\r\n\r\n", status: 505),
        ParserRow(section: "9112 §3", requirement: "a request line of exactly three parts", raw: "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", status: 400),
        ParserRow(section: "9112 §3.2", requirement: "an HTTP/1.1 request without Host is 400", raw: "GET / HTTP/1.1\r\n\r\n", status: 400),
        ParserRow(section: "9112 §3.2", requirement: "more than one Host is 400", raw: "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", status: 400),
        ParserRow(section: "9112 §3.2", requirement: "an invalid Host is 400", raw: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", status: 400),
        ParserRow(section: "9112 §3.2.2", requirement: "absolute-form is accepted (its authority is the host)",
                  raw: "GET http://a.example/x HTTP/1.1\r\nHost: b\r\n\r\n", status: 0),
        ParserRow(section: "9110 §4.2.4", requirement: "a fragment is not part of a request target", raw: "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", status: 400),
        ParserRow(section: "9110 §5.5", requirement: "NUL in a field value is rejected", raw: "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0}b\r\n\r\n", status: 400),
        ParserRow(section: "9110 §5.6.1", requirement: "empty list elements are accepted (Connection)",
                  raw: "GET / HTTP/1.1\r\nHost: a\r\nConnection: , close,\r\n\r\n", status: 0),
        ParserRow(section: "9110 §5.6.1", requirement: "empty list elements are accepted (Transfer-Encoding)",
                  raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked\r\n\r\n", status: 0),
        ParserRow(section: "9112 §5.1", requirement: "whitespace between field name and colon is 400", raw: "GET / HTTP/1.1\r\nHost : a\r\n\r\n", status: 400),
        ParserRow(section: "9112 §5.2", requirement: "obs-fold in a request is 400", raw: "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", status: 400),
        ParserRow(section: "9112 §6.1", requirement: "chunked not the final coding is 400",
                  raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", status: 400),
        ParserRow(section: "9112 §6.1", requirement: "a coding the server does not implement is 501",
                  raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", status: 501),
        ParserRow(section: "9112 §6.1", requirement: "Transfer-Encoding in HTTP/1.0 is faulty framing",
                  raw: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", status: 400),
        ParserRow(section: "9112 §6.3", requirement: "Content-Length with Transfer-Encoding is refused (smuggling)",
                  raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", status: 400),
        ParserRow(section: "9112 §6.3", requirement: "an invalid Content-Length is 400", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3a\r\n\r\n", status: 400),
        ParserRow(section: "9110 §8.6", requirement: "a list of equal Content-Length values is one value",
                  raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n", status: 0),
        ParserRow(section: "9110 §8.6", requirement: "differing Content-Length values are 400",
                  raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\n", status: 400),
        ParserRow(section: "9110 §10.1.1", requirement: "an expectation other than 100-continue may be 417",
                  raw: "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nExpect: 200-ok\r\n\r\n", status: 417),
        ParserRow(section: "9110 §10.1.1", requirement: "Expect in HTTP/1.0 is ignored",
                  raw: "PUT / HTTP/1.0\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n", status: 0),
    ]

    @Test(arguments: parserRows)
    func parserHoldsIt(_ row: ParserRow) {
        var head = RequestHead()
        #expect(parseStatus(row.raw, head: &head) == row.status, "\(row.section): \(row.requirement)")
    }

    @Test func expectInHTTP10IsNotAnExpectation() {
        var head = RequestHead()
        _ = parseStatus("PUT / HTTP/1.0\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n", head: &head)
        #expect(!head.expectContinue, "9110 §10.1.1: no 100 Continue for an HTTP/1.0 client")
    }

    /// A requirement on what is forwarded: the request, and what the forwarded head must
    /// (`present`) and must not (`absent`) contain.
    struct ForwardingRow: CustomTestStringConvertible, Sendable {
        let section: String
        let requirement: String
        let raw: String
        let present: [String]
        let absent: [String]
        var testDescription: String { "\(section): \(requirement)" }
    }

    static let forwardingRows: [ForwardingRow] = [
        ForwardingRow(section: "9110 §7.6.1", requirement: "a proxy removes Connection and the fields it names",
                      raw: "GET / HTTP/1.1\r\nHost: a\r\nConnection: X-Hop\r\nX-Hop: 1\r\n\r\n", present: [], absent: ["Connection", "X-Hop"]),
        ForwardingRow(section: "9110 §7.6.1", requirement: "a proxy removes Keep-Alive, TE, Trailer, Upgrade, Proxy-Connection",
                      raw: "GET / HTTP/1.1\r\nHost: a\r\nKeep-Alive: 5\r\nTE: trailers\r\nTrailer: X\r\nUpgrade: h2c\r\nProxy-Connection: x\r\n\r\n",
                      present: [], absent: ["Keep-Alive", "TE:", "Trailer", "Upgrade", "Proxy-Connection"]),
        ForwardingRow(section: "9110 §7.6.3", requirement: "a gateway sends Via on forwarded requests",
                      raw: "GET / HTTP/1.1\r\nHost: a\r\nVia: 1.1 edge\r\n\r\n", present: ["Via: 1.1 edge\r\n", "Via: 1.1 portcullis\r\n"], absent: []),
        ForwardingRow(section: "9112 §3.2.2", requirement: "an absolute-form target's authority replaces Host",
                      raw: "GET http://a.example/x HTTP/1.1\r\nHost: b.example\r\n\r\n", present: ["Host: a.example\r\n"], absent: ["b.example"]),
        ForwardingRow(section: "9112 §3.2.2", requirement: "the target is forwarded in origin-form",
                      raw: "GET http://a.example/x?q HTTP/1.1\r\nHost: a.example\r\n\r\n", present: ["GET /x?q HTTP/1.1\r\n"], absent: ["http://"]),
        ForwardingRow(section: "9112 §6.1", requirement: "a proxy re-frames the body itself (no Transfer-Encoding passed through)",
                      raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked\r\n\r\n", present: ["Transfer-Encoding: chunked\r\n"],
                      absent: [", chunked"]),
        ForwardingRow(section: "9110 §10.1.1", requirement: "Expect is answered by the gateway, not forwarded",
                      raw: "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n", present: ["Content-Length: 1\r\n"],
                      absent: ["Expect"]),
    ]

    @Test(arguments: forwardingRows)
    func forwardingHoldsIt(_ row: ForwardingRow) {
        var head = RequestHead()
        #expect(parseStatus(row.raw, head: &head) == 0)
        let out = ByteBuffer(capacity: 256)
        Array(row.raw.utf8).withUnsafeBufferPointer { buffer in
            RequestHeadWriter.write(&head, from: buffer.baseAddress!, requestID: Array("rid".utf8).withUnsafeBufferPointer { RequestID($0) },
                                    context: ForwardingContext(peerIP: Array("192.0.2.1".utf8), scheme: "http", port: Array("80".utf8)),
                                    clientIP: Array("192.0.2.1".utf8), peerIsTrusted: false, paths: PathNormalizer(),
                                    hostFallback: Array("gw".utf8), into: out)
        }
        let forwarded = String(decoding: out.bytes, as: UTF8.self)
        for text in row.present { #expect(forwarded.contains(text), "\(row.section): \(row.requirement): \(text)") }
        for text in row.absent { #expect(!forwarded.contains(text), "\(row.section): \(row.requirement): \(text)") }
    }
}
