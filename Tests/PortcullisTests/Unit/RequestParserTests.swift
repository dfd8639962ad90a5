@testable import Portcullis
import Testing

/// One parser case: the raw head and what the parser must say (0 = accepted).
struct ParserCase: CustomTestStringConvertible, Sendable {
    let name: String
    let raw: String
    let status: Int
    var testDescription: String { name }

    init(_ name: String, _ raw: String, _ status: Int) {
        self.name = name
        self.raw = raw
        self.status = status
    }
}

/// Runs the parser over `raw` (a complete head unless stated) and returns the status (0: ok).
func parseStatus(_ raw: String, limits: HeadLimits = HeadLimits(maxRequestLine: 1024, maxHeaderBytes: 2048, maxHeaderCount: 20),
                 head: inout RequestHead) -> Int? {
    var parser = RequestParser(limits: limits)
    let bytes = Array(raw.utf8)
    return bytes.withUnsafeBufferPointer { buffer in
        switch parser.parse(buffer, into: &head) {
        case .complete: return 0
        case .failed(let failure): return failure.status
        case .incomplete: return nil
        }
    }
}

private let ok = 0
private let longTarget = "/" + String(repeating: "a", count: 1100)
private let manyFields = (0..<21).map { "X-F\($0): v\r\n" }.joined()
private let bigField = "X-Big: " + String(repeating: "b", count: 2100) + "\r\n"

@Suite struct RequestParserTests {
    static let cases: [ParserCase] = [
        // Accepted
        ParserCase("simple GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", ok),
        ParserCase("query string", "GET /a/b?c=d&e=%20 HTTP/1.1\r\nHost: a\r\n\r\n", ok),
        ParserCase("HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", ok),
        ParserCase("HTTP/1.0 with Host", "GET / HTTP/1.0\r\nHost: a\r\n\r\n", ok),
        ParserCase("HTTP/1.2 treated as 1.1", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", ok),
        ParserCase("POST with length", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", ok),
        ParserCase("chunked", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", ok),
        ParserCase("chunked any case", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChUnKeD\r\n\r\n", ok),
        ParserCase("identical Content-Length repeated", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", ok),
        ParserCase("identical Content-Length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n", ok),
        ParserCase("zero Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", ok),
        ParserCase("empty field value", "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n", ok),
        ParserCase("tab in value", "GET / HTTP/1.1\r\nHost: a\r\nX-T: a\tb\r\n\r\n", ok),
        ParserCase("obs-text in value", "GET / HTTP/1.1\r\nHost: a\r\nX-U: caf\u{e9}\r\n\r\n", ok),
        ParserCase("leading empty line", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", ok),
        ParserCase("host with port", "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", ok),
        ParserCase("IPv6 host", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", ok),
        ParserCase("absolute-form", "GET http://example.com/x?y HTTP/1.1\r\nHost: example.com\r\n\r\n", ok),
        ParserCase("extension method", "PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n", ok),
        ParserCase("expect 100-continue", "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n", ok),
        ParserCase("dots inside a segment", "GET /a..b/.c/d. HTTP/1.1\r\nHost: a\r\n\r\n", ok),
        ParserCase("dot segment in query only", "GET /a?x=/../b HTTP/1.1\r\nHost: a\r\n\r\n", ok),
        ParserCase("trailing whitespace trimmed", "GET / HTTP/1.1\r\nHost: a   \r\n\r\n", ok),
        ParserCase("many tchar symbols in name", "GET / HTTP/1.1\r\nHost: a\r\nX-!#$%&'*+.^_`|~: v\r\n\r\n", ok),
        ParserCase("field count at the limit", "GET / HTTP/1.1\r\nHost: a\r\n" + (0..<19).map { "X-F\($0): v\r\n" }.joined() + "\r\n", ok),
        // Framing: request smuggling vectors
        ParserCase("CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ParserCase("TE and CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400),
        ParserCase("differing Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
        ParserCase("differing Content-Length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", 400),
        ParserCase("negative Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
        ParserCase("plus-signed Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400),
        ParserCase("hex Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", 400),
        ParserCase("empty Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400),
        ParserCase("huge Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
        ParserCase("TE gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        ParserCase("TE gzip, chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ParserCase("TE chunked, identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400),
        ParserCase("TE repeated", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ParserCase("TE with junk", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 400),
        ParserCase("TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ParserCase("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400),
        ParserCase("obs-fold with tab", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n", 400),
        ParserCase("space before colon", "GET / HTTP/1.1\r\nHost: a\r\nX-A : b\r\n\r\n", 400),
        ParserCase("tab before colon", "GET / HTTP/1.1\r\nHost: a\r\nX-A\t: b\r\n\r\n", 400),
        ParserCase("TE with space before colon", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", 400),
        ParserCase("bare CR in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n", 400),
        ParserCase("bare CR line end", "GET / HTTP/1.1\r\nHost: a\rX-A: b\r\n\r\n", 400),
        ParserCase("bare LF line end", "GET / HTTP/1.1\nHost: a\n\n", 400),
        ParserCase("bare LF in fields", "GET / HTTP/1.1\r\nHost: a\nX-A: b\r\n\r\n", 400),
        ParserCase("NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\u{0}c\r\n\r\n", 400),
        ParserCase("control byte in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\u{1}c\r\n\r\n", 400),
        ParserCase("DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\u{7f}c\r\n\r\n", 400),
        ParserCase("NUL in target", "GET /a\u{0}b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ParserCase("control byte in target", "GET /a\u{1}b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ParserCase("obs-text in target", "GET /caf\u{e9} HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ParserCase("invalid name char", "GET / HTTP/1.1\r\nHost: a\r\nX(A): b\r\n\r\n", 400),
        ParserCase("empty field name", "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", 400),
        ParserCase("name with slash", "GET / HTTP/1.1\r\nHost: a\r\nX/A: b\r\n\r\n", 400),
        ParserCase("missing colon", "GET / HTTP/1.1\r\nHost: a\r\nXA\r\n\r\n", 400),
        // Host
        ParserCase("missing Host in 1.1", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n", 400),
        ParserCase("repeated Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ParserCase("repeated Host in 1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ParserCase("Host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
        ParserCase("Host with userinfo", "GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", 400),
        ParserCase("Host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
        ParserCase("Host port at the limit", "GET / HTTP/1.1\r\nHost: a:65535\r\n\r\n", ok),
        ParserCase("Host port over 65535", "GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n", 400),
        ParserCase("Host port of six digits", "GET / HTTP/1.1\r\nHost: a:000080\r\n\r\n", 400),
        ParserCase("Host empty port", "GET / HTTP/1.1\r\nHost: a:\r\n\r\n", 400),
        ParserCase("Host port not digits", "GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", 400),
        ParserCase("Host two colons", "GET / HTTP/1.1\r\nHost: a:80:80\r\n\r\n", 400),
        ParserCase("Host port only", "GET / HTTP/1.1\r\nHost: :80\r\n\r\n", 400),
        ParserCase("Host unclosed IPv6", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400),
        ParserCase("Host junk after IPv6", "GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", 400),
        ParserCase("Host bracket in name", "GET / HTTP/1.1\r\nHost: a]b\r\n\r\n", 400),
        ParserCase("Host trailing dot", "GET / HTTP/1.1\r\nHost: example.com.\r\n\r\n", ok),
        ParserCase("absolute-form bad port", "GET http://a:99999/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ParserCase("fragment in target", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ParserCase("fragment after query", "GET /a?b#c HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        // Request line
        ParserCase("lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400),
        ParserCase("missing version", "GET /\r\nHost: a\r\n\r\n", 400),
        ParserCase("double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ParserCase("space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ParserCase("trailing space after version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400),
        ParserCase("invalid method char", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ParserCase("empty method", " / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ParserCase("HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        ParserCase("HTTP/0.9 style", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505),
        ParserCase("HTTP/3.0", "GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505),
        ParserCase("two-digit major", "GET / HTTP/11.1\r\nHost: a\r\n\r\n", 400),
        ParserCase("relative target", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ParserCase("asterisk target", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ParserCase("authority-form", "CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ParserCase("ftp absolute-form", "GET ftp://a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ParserCase("absolute-form without path", "GET http://a HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ParserCase("absolute-form with userinfo", "GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ParserCase("dot-dot segment", "GET /a/../b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ParserCase("dot segment", "GET /a/./b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ParserCase("trailing dot-dot", "GET /a/.. HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ParserCase("encoded dot-dot", "GET /a/%2e%2E/b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ParserCase("half-encoded dot-dot", "GET /a/.%2e/b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ParserCase("too many empty lines first", "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ParserCase("unsupported expectation", "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nExpect: 200-ok\r\n\r\n", 417),
        // Limits
        ParserCase("request line too long", "GET \(longTarget) HTTP/1.1\r\nHost: a\r\n\r\n", 414),
        ParserCase("too many fields", "GET / HTTP/1.1\r\nHost: a\r\n\(manyFields)\r\n", 431),
        ParserCase("header block too large", "GET / HTTP/1.1\r\nHost: a\r\n\(bigField)\r\n", 431),
    ]

    @Test(arguments: cases)
    func verdict(_ parserCase: ParserCase) {
        var head = RequestHead()
        #expect(parseStatus(parserCase.raw, head: &head) == parserCase.status, "\(parserCase.name)")
    }

    @Test func hasEnoughCases() {
        #expect(Self.cases.count >= 60)
    }

    @Test func extractsTheFacts() throws {
        var head = RequestHead()
        let raw = "POST /api/x?y=1 HTTP/1.1\r\nHost: Example.com\r\nContent-Length: 12\r\nConnection: close, X-Secret\r\nX-Secret: s\r\nX-Request-ID: abc-123\r\n\r\n"
        #expect(parseStatus(raw, head: &head) == 0)
        let bytes = Array(raw.utf8)
        #expect(head.method == .post)
        #expect(String(decoding: bytes[head.pathRange], as: UTF8.self) == "/api/x")
        #expect(String(decoding: bytes[head.pathAndQueryRange], as: UTF8.self) == "/api/x?y=1")
        #expect(String(decoding: bytes[try #require(head.authorityRange)], as: UTF8.self) == "Example.com")
        #expect(head.bodyFraming == .length(12))
        #expect(head.keepAlive == false)
        #expect(String(decoding: bytes[try #require(head.requestIDRange)], as: UTF8.self) == "abc-123")
        #expect(head.fields.first { $0.kind == .other }?.listedInConnection == true)
        #expect(head.headLength == bytes.count)
    }

    @Test func keepAliveRules() {
        var head = RequestHead()
        _ = parseStatus("GET / HTTP/1.0\r\n\r\n", head: &head)
        #expect(head.keepAlive == false)
        _ = parseStatus("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", head: &head)
        #expect(head.keepAlive == true)
        _ = parseStatus("GET / HTTP/1.1\r\nHost: a\r\n\r\n", head: &head)
        #expect(head.keepAlive == true)
        _ = parseStatus("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", head: &head)
        #expect(head.isUpgrade == false, "RFC 6455 §4.1: no Sec-WebSocket-Key, no upgrade")
    }

    /// Only a complete WebSocket handshake on GET is an upgrade; h2c (request smuggling to an
    /// HTTP/2 upstream) and every other token are not.
    @Test(arguments: [
        ("GET", "websocket", true, true),
        ("GET", "WebSocket", true, true),
        ("POST", "websocket", true, false),
        ("GET", "h2c", true, false),
        ("GET", "websocket, h2c", true, false),
        ("GET", "websocket", false, false),
    ])
    func upgradeIsWebSocketOnly(method: String, token: String, withKey: Bool, upgrades: Bool) {
        var head = RequestHead()
        let key = withKey ? "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" : ""
        #expect(parseStatus("\(method) /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: \(token)\r\n\(key)HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n",
                            head: &head) == 0)
        #expect(head.isUpgrade == upgrades)
    }

    @Test func absoluteFormAuthorityWinsOverHost() throws {
        var head = RequestHead()
        let raw = "GET http://a.example/x HTTP/1.1\r\nHost: b.example\r\n\r\n"
        #expect(parseStatus(raw, head: &head) == 0)
        let bytes = Array(raw.utf8)
        #expect(String(decoding: bytes[try #require(head.authorityRange)], as: UTF8.self) == "a.example")
        #expect(head.isAbsoluteForm)
    }

    @Test func invalidRequestIDIsIgnored() {
        var head = RequestHead()
        let tooLong = String(repeating: "x", count: 129)
        _ = parseStatus("GET / HTTP/1.1\r\nHost: a\r\nX-Request-ID: \(tooLong)\r\n\r\n", head: &head)
        #expect(head.requestIDRange == nil)
        _ = parseStatus("GET / HTTP/1.1\r\nHost: a\r\nX-Request-ID: has space\r\n\r\n", head: &head)
        #expect(head.requestIDRange == nil)
    }

    @Test func incompleteHeadWaitsThenCompletes() {
        var parser = RequestParser(limits: HeadLimits())
        var head = RequestHead()
        var bytes: [UInt8] = []
        let raw = Array("GET /x HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        for byte in raw {
            bytes.append(byte)
            let outcome = bytes.withUnsafeBufferPointer { parser.parse($0, into: &head) }
            if bytes.count < raw.count {
                #expect(outcome == .incomplete)
            } else {
                #expect(outcome == .complete)
            }
        }
    }

    @Test func longRequestLineIsRefusedBeforeTheHeadEnds() {
        var parser = RequestParser(limits: HeadLimits(maxRequestLine: 300, maxHeaderBytes: 2048, maxHeaderCount: 10))
        var head = RequestHead()
        let bytes = Array(("GET /" + String(repeating: "a", count: 400)).utf8)
        let outcome = bytes.withUnsafeBufferPointer { parser.parse($0, into: &head) }
        #expect(outcome == .failed(HTTPParseError(414, "request line too long")))
    }

    @Test func endlessHeaderBlockIsRefusedBeforeTheHeadEnds() {
        var parser = RequestParser(limits: HeadLimits(maxRequestLine: 300, maxHeaderBytes: 1024, maxHeaderCount: 1000))
        var head = RequestHead()
        let bytes = Array(("GET / HTTP/1.1\r\n" + String(repeating: "X-A: b\r\n", count: 200)).utf8)
        let outcome = bytes.withUnsafeBufferPointer { parser.parse($0, into: &head) }
        if case .failed(let failure) = outcome {
            #expect(failure.status == 431)
        } else {
            Issue.record("expected 431, got \(outcome)")
        }
    }
}
