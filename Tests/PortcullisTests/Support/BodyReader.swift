import Foundation
import Glibc

/// Reads a response straight off a test client in large pieces and hands the body out as it
/// arrives (the test client's own array handling is too slow for 100 MB), over either
/// transport. With `pause` it reads like a slow client: small reads with a sleep between them.
/// With an `upload` it sends a request body while it reads (full duplex on one thread, which is
/// what one TLS session allows), for `/echo`.
final class BodyReader {
    /// Request body bytes still to send, a piece at a time; nil when all are sent.
    var upload: (() -> [UInt8]?)?

    private let client: TestClient
    private var buffer: [UInt8]
    private var start = 0
    private var end = 0
    private var pause: useconds_t

    /// `readSize` bytes at most per read, `pause` microseconds between reads.
    init(client: TestClient, readSize: Int = 1 << 20, pause: useconds_t = 0) {
        self.client = client
        buffer = [UInt8](repeating: 0, count: max(readSize, 64 * 1024))
        self.pause = pause
        self.readSize = readSize
    }

    private var readSize: Int

    /// From now on, read like a fast client.
    func speedUp() {
        pause = 0
        readSize = buffer.count
    }

    /// The response head, without its final empty line.
    func readHead() throws -> String {
        while true {
            if let index = find([13, 10, 13, 10]) {
                let head = String(decoding: buffer[start..<index], as: UTF8.self)
                start = index + 4
                return head
            }
            try fill()
        }
    }

    /// Reads the body the head announces (Content-Length or chunked) and returns its length.
    func readBody(head: String, _ consume: (ArraySlice<UInt8>) -> Void) throws -> Int {
        let fields = head.lowercased().split(separator: "\r\n")
        if fields.contains(where: { $0.hasPrefix("transfer-encoding:") && $0.hasSuffix("chunked") }) {
            return try readChunked(consume)
        }
        let lengthField = fields.first { $0.hasPrefix("content-length:") }
        guard let length = lengthField.flatMap({ Int($0.dropFirst(15).trimmingCharacters(in: .whitespaces)) }) else {
            throw HarnessError("no body framing in \(head)")
        }
        try readExactly(length, consume)
        return length
    }

    func readChunked(_ consume: (ArraySlice<UInt8>) -> Void) throws -> Int {
        var total = 0
        while true {
            var lineEnd = find([13, 10])
            while lineEnd == nil { try fill(); lineEnd = find([13, 10]) }
            let size = Int(String(decoding: buffer[start..<lineEnd!], as: UTF8.self), radix: 16) ?? -1
            guard size >= 0 else { throw HarnessError("bad chunk size") }
            start = lineEnd! + 2
            if size == 0 {
                while end - start < 2 { try fill() }
                start += 2
                return total
            }
            try readExactly(size, consume)
            total += size
            while end - start < 2 { try fill() }
            start += 2
        }
    }

    private func readExactly(_ count: Int, _ consume: (ArraySlice<UInt8>) -> Void) throws {
        var remaining = count
        while remaining > 0 {
            if start == end { try fill() }
            let take = min(remaining, end - start)
            consume(buffer[start..<(start + take)])
            start += take
            remaining -= take
        }
    }

    /// Sends upload pieces while the socket takes them, until response bytes are there to read.
    private func sendWhileWaiting() throws {
        while let next = upload, !client.hasBufferedInput {
            var poller = pollfd(fd: client.fd, events: Int16(POLLIN | POLLOUT), revents: 0)
            guard poll(&poller, 1, 15_000) > 0 else { throw HarnessError("neither readable nor writable for 15 s") }
            if poller.revents & Int16(POLLOUT) != 0 {
                if let piece = next() { try client.send(piece) } else { upload = nil }
            }
            if poller.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 { return }
        }
    }

    private func find(_ needle: [UInt8]) -> Int? {
        guard end - start >= needle.count else { return nil }
        for index in start...(end - needle.count) where buffer[index] == needle[0] && buffer[index + needle.count - 1] == needle[needle.count - 1] {
            return index
        }
        return nil
    }

    private func fill() throws {
        if start == end {
            start = 0
            end = 0
        } else if end == buffer.count {
            buffer.replaceSubrange(0..<(end - start), with: buffer[start..<end])
            end -= start
            start = 0
        }
        if pause > 0 { usleep(pause) }
        try sendWhileWaiting()
        let count = buffer.withUnsafeMutableBytes { client.receive(into: $0.baseAddress! + end, count: min($0.count - end, readSize)) }
        guard count > 0 else { throw HarnessError("connection ended after \(end - start) unread bytes (read returned \(count))") }
        end += count
    }
}

/// The demo origin's body pattern: byte i is `a` + i % 26.
enum BodyPattern {
    /// Whether `piece`, starting at body offset `offset`, follows the pattern.
    static func matches(_ piece: ArraySlice<UInt8>, at offset: Int) -> Bool {
        var expected = UInt8(97 + offset % 26)
        for byte in piece {
            if byte != expected { return false }
            expected = expected == 122 ? 97 : expected + 1
        }
        return true
    }

    /// `count` bytes of the pattern.
    static func bytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var value: UInt8 = 97
        for index in 0..<count {
            bytes[index] = value
            value = value == 122 ? 97 : value + 1
        }
        return bytes
    }
}
