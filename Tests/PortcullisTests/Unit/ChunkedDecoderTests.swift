@testable import Portcullis
import Testing

/// Decodes `encoded` fed in pieces of `step` bytes; returns the data, or nil when invalid.
func decodeChunked(_ encoded: [UInt8], step: Int = .max) -> (data: [UInt8], finished: Bool)? {
    var decoder = ChunkedDecoder()
    var pending: [UInt8] = []
    var data: [UInt8] = []
    var offset = 0
    while offset < encoded.count || !pending.isEmpty {
        let take = min(step, encoded.count - offset)
        pending += encoded[offset..<(offset + take)]
        offset += take
        var stalled = false
        while !stalled {
            let event = pending.withUnsafeBufferPointer { decoder.next($0) }
            switch event {
            case .data(let start, let count):
                data += pending[start..<(start + count)]
                pending.removeFirst(start + count)
            case .needMore(let consumed):
                pending.removeFirst(consumed)
                stalled = true
            case .end(let consumed):
                pending.removeFirst(consumed)
                return (data, true)
            case .invalid:
                return nil
            }
        }
        if take == 0 { break }
    }
    return (data, false)
}

@Suite struct ChunkedDecoderTests {
    @Test(arguments: [1, 2, 3, 7, 1000])
    func decodesInAnyPieces(step: Int) throws {
        let encoded = Array("5\r\nhello\r\n7;ext=1;q=\"a b\"\r\n, world\r\n0\r\nTrailer-A: x\r\n\r\n".utf8)
        let result = try #require(decodeChunked(encoded, step: step))
        #expect(String(decoding: result.data, as: UTF8.self) == "hello, world")
        #expect(result.finished)
    }

    @Test func upperCaseHex() throws {
        let result = try #require(decodeChunked(Array("A\r\n0123456789\r\n0\r\n\r\n".utf8)))
        #expect(result.data.count == 10)
    }

    @Test(arguments: [
        "x\r\nabc\r\n0\r\n\r\n",            // not hex
        "\r\n0\r\n\r\n",                    // empty size
        "3\r\nabcX\r\n0\r\n\r\n",           // data longer than size
        "3\nabc\r\n0\r\n\r\n",              // bare LF after size
        "3\r\nabc\n0\r\n\r\n",              // bare LF after data
        "3;\r\nabc\r\n0\r\n\r\n",           // empty extension
        "3;a=\"x\r\nabc\r\n0\r\n\r\n",      // unterminated quoted string
        "3 x\r\nabc\r\n0\r\n\r\n",          // junk after size
        "10000000000000000\r\n",            // size overflow
        "0\r\nbad trailer\r\n\r\n",         // trailer without colon
        "-1\r\n\r\n",                       // negative
    ])
    func refusesMalformedFraming(_ encoded: String) {
        #expect(decodeChunked(Array(encoded.utf8)) == nil)
    }

    @Test func limitsDataPerEvent() {
        var decoder = ChunkedDecoder()
        let bytes = Array("a\r\n0123456789\r\n0\r\n\r\n".utf8)
        let event = bytes.withUnsafeBufferPointer { decoder.next($0, maxData: 4) }
        guard case .data(let offset, let count) = event else {
            Issue.record("expected data, got \(event)")
            return
        }
        #expect(offset == 3 && count == 4)
    }
}
