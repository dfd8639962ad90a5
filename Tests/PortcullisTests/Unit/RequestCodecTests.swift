@testable import Portcullis
import Testing

/// The request direction of the client codec (`RequestCodec`) with bytes alone: a body of
/// known length taken in pieces as room allows, a chunked one decoded and counted against the
/// route's limit (at the limit and one byte past it), broken framing, a partial size line, and
/// the next request starting clean after a body or after a local answer that skipped one.
@Suite struct RequestCodecTests {
    /// A client's connection as the codec sees it: its bytes in `input`.
    private struct Client {
        var codec = RequestCodec(limits: HeadLimits())
        let input = ByteBuffer(capacity: 16 * 1024)

        /// Parses the head at the front of the input and begins its body, as forwarding does.
        mutating func begin(_ head: String) {
            input.append(Array(head.utf8))
            #expect(codec.parseHead(input.readable) == .complete)
            input.consume(codec.head.headLength)
            codec.beginBody()
        }

        /// Feeds `bytes`, then takes body bytes until the codec says anything but `moved` (or
        /// once, with `once`); returns that step and the data taken.
        mutating func take(_ bytes: String, room: Int = .max, limit: Int64 = 1 << 20, once: Bool = false) -> (RequestCodec.BodyStep, String) {
            input.append(Array(bytes.utf8))
            var data: [UInt8] = []
            while true {
                let step = codec.takeBody(from: input, room: room, limit: limit) { data += UnsafeBufferPointer(start: $0, count: $1) }
                if step != .moved || once { return (step, String(decoding: data, as: UTF8.self)) }
            }
        }
    }

    @Test func aBodyOfKnownLengthIsTakenAsRoomAllows() {
        var client = Client()
        client.begin("POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n")
        #expect(!client.codec.bodyDone)
        #expect(client.take("hello", room: 3, once: true) == (.moved, "hel"))
        #expect(client.codec.bodyBytesSoFar == 3)
        #expect(client.take(" world", room: 4) == (.finished, "lo world"))
        #expect(client.input.isEmpty && client.codec.bodyBytesSoFar == 11)
    }

    @Test func theNextRequestsBytesStayWhereTheyAre() {
        var client = Client()
        client.begin("POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n")
        #expect(client.take("okGET / HTTP/1.1\r\n") == (.finished, "ok"))
        #expect(String(decoding: client.input.readable, as: UTF8.self) == "GET / HTTP/1.1\r\n")
    }

    @Test func aChunkedBodyIsDecodedAcrossReads() {
        var client = Client()
        client.begin("POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(client.take("5;x=y\r\nhel") == (.needMore, "hel"))
        #expect(client.take("lo\r\n1") == (.needMore, "lo"))
        #expect(client.take("0\r\n0123456789abcdef\r\n0\r\nTrailer: t\r\n\r\n") == (.finished, "0123456789abcdef"))
        #expect(client.codec.bodyBytesSoFar == 21)
    }

    @Test(arguments: [(Int64(10), RequestCodec.BodyStep.finished), (9, .tooLarge(received: 10))])
    func aChunkedBodyIsHeldToTheLimit(limit: Int64, expected: RequestCodec.BodyStep) {
        var client = Client()
        client.begin("POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        let (step, data) = client.take("6\r\nabcdef\r\n4\r\nghij\r\n0\r\n\r\n", limit: limit)
        #expect(step == expected)
        // Past the limit, the chunk that crosses it is not handed on.
        #expect(data == (expected == .finished ? "abcdefghij" : "abcdef"))
    }

    @Test(arguments: ["zz\r\nhello\r\n", "5\r\nhelloXX", "5\r\nhello\r\n0\r\nbad trailer\r\n\r\n"])
    func brokenChunkFramingIsInvalid(body: String) {
        var client = Client()
        client.begin("POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(client.take(body).0 == .invalid)
    }

    @Test func aRequestWithoutABodyIsDoneAndTheNextStartsClean() {
        var client = Client()
        client.begin("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(client.codec.bodyDone && client.take("").0 == .finished)
        // A chunked request after a chunked one: nothing of the first one's count is left.
        client.begin("POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(client.take("3\r\nabc\r\n0\r\n\r\n", limit: 3) == (.finished, "abc"))
        client.begin("POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(client.codec.bodyBytesSoFar == 0)
        #expect(client.take("3\r\nabc\r\n0\r\n\r\n", limit: 3) == (.finished, "abc"))
    }

    @Test func aSkippedBodyLeavesTheConnectionUnusable() {
        var client = Client()
        client.input.append(Array("POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello".utf8))
        #expect(client.codec.parseHead(client.input.readable) == .complete)
        client.input.consume(client.codec.head.headLength)
        client.codec.skipBody()
        // Its body was never read: the connection must close after the local answer.
        #expect(!client.codec.bodyDone)
    }
}
