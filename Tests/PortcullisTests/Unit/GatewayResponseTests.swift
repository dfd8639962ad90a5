@testable import Portcullis
import Testing

/// The gateway's own answers (`LocalAnswer`) and their HTTP/1.x bytes (`GatewayResponse`): every
/// status's `Content-Length` is its body's length, a `HEAD` gets the head alone, the connection
/// line follows `keepAlive`, a 405 lists the methods served, and a redirect to HTTPS keeps the
/// request's host (without its port, with IPv6 brackets), path and query.
@Suite struct GatewayResponseTests {
    private let added = AddedFields(policy: ResponseHeaderPolicy(settings: .defaults, route: RouteHeaderSettings(profile: "none", add: [], remove: [], upstreamWins: nil)),
                                    secure: false, rateLimit: [], date: [])
    private let requestID = Array("r-1".utf8).withUnsafeBufferPointer { RequestID($0) }

    /// The bytes of `answer`, split into head and body.
    private func written(_ answer: LocalAnswer, keepAlive: Bool = true, headOnly: Bool = false) -> (head: String, body: String) {
        let out = ByteBuffer(capacity: 1024)
        GatewayResponse.write(answer, requestID: requestID, keepAlive: keepAlive, headOnly: headOnly, added: added, into: out)
        let text = String(decoding: out.bytes, as: UTF8.self)
        let parts = text.split(separator: "\r\n\r\n", maxSplits: 1, omittingEmptySubsequences: false)
        return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
    }

    private func contentLength(_ head: String) -> Int? {
        head.split(separator: "\r\n").first { $0.hasPrefix("Content-Length: ") }.flatMap { Int($0.dropFirst(16)) }
    }

    /// The location a redirect to HTTPS sends the client to, for a request head `raw`.
    private func location(_ raw: String, port: String = "", fallbackHost: String = "10.0.0.1:80") -> [UInt8]? {
        var head = RequestHead()
        #expect(parseStatus(raw, head: &head) == 0)
        let answer = Array(raw.utf8).withUnsafeBufferPointer {
            LocalAnswer.redirectToHTTPS(head, from: $0.baseAddress!, port: Array(port.utf8), fallbackHost: Array(fallbackHost.utf8))
        }
        #expect(answer.status == 308)
        guard case .redirect(let location) = answer.body else { return nil }
        return location
    }

    @Test(arguments: [400, 403, 404, 405, 408, 413, 414, 429, 431, 501, 502, 503, 504, 505])
    func everyErrorsLengthIsItsBodys(status: Int) {
        let (head, body) = written(.error(status, detail: status == 429 ? Array(#","rule":"api""#.utf8) : []))
        #expect(head.hasPrefix("HTTP/1.1 \(status) ") && contentLength(head) == body.utf8.count)
        #expect(body.hasPrefix("{\"error\":\"") && body.contains("\"status\":\(status),\"request_id\":\"r-1\"") && body.hasSuffix("}\n"))
        #expect(head.contains("Allow: GET, HEAD") == (status == 405))
        if status == 429 { #expect(body.contains(#""rule":"api""#)) }
    }

    @Test func aHeadRequestGetsTheHeadAloneWithTheBodysLength() {
        let full = written(.error(404))
        let headOnly = written(.error(404), headOnly: true)
        #expect(headOnly.head == full.head && headOnly.body.isEmpty && contentLength(headOnly.head) == full.body.utf8.count)
        let text = written(.challenge(keyAuthorization: "token.key"), headOnly: true)
        #expect(contentLength(text.head) == 9 && text.body.isEmpty)
    }

    @Test func theConnectionLineFollowsKeepAlive() {
        #expect(!written(.error(404)).head.contains("Connection:"))
        #expect(written(.error(404), keepAlive: false).head.hasSuffix("Connection: close"))
    }

    @Test func aChallengeIsPlainText() {
        let (head, body) = written(.challenge(keyAuthorization: "token.key"))
        #expect(head.hasPrefix("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n") && body == "token.key")
    }

    @Test func aRedirectKeepsHostPathAndQuery() {
        #expect(location("GET /a/b?c=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", port: ":8443") == Array("https://example.com:8443/a/b?c=1".utf8))
        #expect(location("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n") == Array("https://[::1]/".utf8))
        #expect(location("GET /x HTTP/1.0\r\n\r\n") == Array("https://10.0.0.1/x".utf8))
        let (head, body) = written(LocalAnswer(status: 308, body: .redirect(location: Array("https://a/".utf8))))
        #expect(head.hasPrefix("HTTP/1.1 308 Permanent Redirect\r\nLocation: https://a/\r\n") && contentLength(head) == 0 && body.isEmpty)
    }
}
