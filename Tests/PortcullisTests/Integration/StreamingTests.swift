import Foundation
import Glibc
import Testing

/// Bodies are streamed, never buffered whole: 100 MB up and 100 MB down through one connection
/// while the gateway's memory stays flat.
@Suite(.serialized) struct StreamingTests {
    @Test func hundredMegabytesBothWaysInBoundedMemory() throws {
        let origin = try Origin()
        let gateway = try GatewayUnderTest(upstreams: [origin.port], workers: 1, extra: "[limits]\nmax_body = \"1GB\"\n")
        #expect(try gateway.get("/bytes/10").status == 200)
        let baseline = gateway.child.memoryKiB().rss
        #expect(baseline > 1000, "could not read the gateway's memory")
        let total = 100 * 1024 * 1024
        let client = try TestClient(port: gateway.port, timeoutSeconds: 60)
        try client.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: \(total)\r\n\r\n")

        // Send from another thread while this one reads the echoed body back.
        let sender = Thread {
            let block = [UInt8](repeating: 0x5A, count: 256 * 1024)
            var sent = 0
            while sent < total {
                guard (try? client.send(Array(block.prefix(total - sent)))) != nil else { return }
                sent += min(block.count, total - sent)
            }
        }
        sender.start()

        var received = 0
        var allMatch = true
        let reader = try RawBodyReader(fd: client.fd)
        let head = try reader.readHead()
        #expect(head.hasPrefix("HTTP/1.1 200"))
        do {
            try reader.readChunked { chunk in
                received += chunk.count
                if allMatch && !chunk.allSatisfy({ $0 == 0x5A }) { allMatch = false }
            }
        } catch {
            Issue.record("\(error) after \(received) bytes; gateway log:\n\(gateway.child.output)\norigin log:\n\(origin.child.output)")
        }
        #expect(received == total)
        #expect(allMatch)
        let peakGrowthMiB = Double(gateway.child.memoryKiB().peak - baseline) / 1024
        #expect(peakGrowthMiB < 64, "peak RSS grew by \(peakGrowthMiB) MiB")
        print("100 MB each way: gateway peak RSS grew by \(peakGrowthMiB) MiB over a \(baseline / 1024) MiB baseline")
    }
}

/// Reads a chunked body straight off a socket in large pieces (the test client's array
/// handling is too slow for 100 MB).
final class RawBodyReader {
    private let fd: Int32
    private var buffer = [UInt8](repeating: 0, count: 1 << 20)
    private var start = 0
    private var end = 0

    init(fd: Int32) throws { self.fd = fd }

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

    func readChunked(_ consume: (ArraySlice<UInt8>) -> Void) throws {
        while true {
            var lineEnd = find([13, 10])
            while lineEnd == nil { try fill(); lineEnd = find([13, 10]) }
            let size = Int(String(decoding: buffer[start..<lineEnd!], as: UTF8.self), radix: 16) ?? -1
            guard size >= 0 else { throw HarnessError("bad chunk size") }
            start = lineEnd! + 2
            if size == 0 { return }
            var remaining = size
            while remaining > 0 {
                if start == end { try fill() }
                let take = min(remaining, end - start)
                consume(buffer[start..<(start + take)])
                start += take
                remaining -= take
            }
            while end - start < 2 { try fill() }
            start += 2
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
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + end, $0.count - end, 0) }
        guard count > 0 else { throw HarnessError("connection ended early") }
        end += count
    }
}
