@testable import Portcullis
import Testing

@Suite struct ResponseParserTests {
    private func parse(_ raw: String, method: HTTPMethod = .get) -> (RequestParser.Outcome, ResponseHead) {
        var head = ResponseHead()
        let bytes = Array(raw.utf8)
        let outcome = bytes.withUnsafeBufferPointer { ResponseParser().parse($0, requestMethod: method, into: &head) }
        return (outcome, head)
    }

    @Test func framingRules() {
        #expect(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n").1.bodyFraming == .length(5))
        #expect(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").1.bodyFraming == .chunked)
        #expect(parse("HTTP/1.1 200 OK\r\n\r\n").1.bodyFraming == .untilClose)
        #expect(parse("HTTP/1.1 200 OK\r\n\r\n").1.keepAlive == false)
        #expect(parse("HTTP/1.1 204 No Content\r\n\r\n").1.bodyFraming == .none)
        #expect(parse("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n").1.bodyFraming == .none)
        #expect(parse("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", method: .head).1.bodyFraming == .none)
        #expect(parse("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", method: .head).1.contentLength == 9)
        #expect(parse("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n").1.isInterim)
    }

    /// A status line without a reason phrase or its space crashed the parser (a reversed range):
    /// any upstream could stop the gateway. Found by `make fuzz`; the input is kept in the corpus.
    @Test func statusLineWithoutAReason() {
        let (outcome, head) = parse("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n")
        #expect(outcome == .complete && head.status == 200 && head.reasonRange.isEmpty)
        #expect(parse("HTTP/1.1 200\r\n").0 == .incomplete)
    }

    @Test func transferEncodingOverridesLengthAndStopsReuse() {
        let head = parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n").1
        #expect(head.bodyFraming == .chunked)
        #expect(head.keepAlive == false)
    }

    @Test func keepAliveRules() {
        #expect(parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").1.keepAlive == false)
        #expect(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").1.keepAlive == false)
        #expect(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n").1.keepAlive == true)
    }

    @Test(arguments: [
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\u{0}b\r\n\r\n",
        "HTTP/1.1 999 Nope\r\n\r\n",
        "ICY 200 OK\r\n\r\n",
    ])
    func refusesMalformedResponses(_ raw: String) {
        if case .failed(let failure) = parse(raw).0 {
            #expect(failure.status == 502)
        } else {
            Issue.record("accepted \(raw.debugDescription)")
        }
    }
}
