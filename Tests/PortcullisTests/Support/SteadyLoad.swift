import CZlib
import Foundation
import Glibc

/// Ordinary traffic against a gateway while something happens to it (a binary upgrade): keep-alive
/// clients on both transports, clients that open a new connection for every request, a
/// WebSocket that echoes a message every 50 ms, and slow uploads checked by digest. Every
/// failure is recorded with what it was; nothing is retried except what HTTP clients retry
/// themselves (RFC 9112 §9.3.1): a request on a reused keep-alive connection that the server
/// closed before sending any byte of the answer, counted in `retries` (tests expect none).
final class SteadyLoad: @unchecked Sendable {
    private let lock = NSLock()
    private var stopping = false
    private var threads: [Thread] = []
    private var counts = Counts()
    /// Client threads that have begun (`start` returns once all have).
    private var running = 0

    /// What the clients did so far.
    struct Counts {
        var requests = 0
        var retries = 0
        var failures: [String] = []
        /// The longest a new connection waited from `connect` to the end of its answer (s).
        var longestNewConnection = 0.0
        var webSocketEchoes = 0
        var webSocketClosedNormally = false
        var uploads = 0
    }

    /// The counts now (read under the clients' lock).
    var now: Counts { lock.withLock { counts } }

    private let plainPort: UInt16
    private let tlsPort: UInt16

    init(plainPort: UInt16, tlsPort: UInt16) {
        self.plainPort = plainPort
        self.tlsPort = tlsPort
    }

    private func port(_ transport: Transport) -> UInt16 { transport == .tls ? tlsPort : plainPort }

    private var shouldStop: Bool { lock.withLock { stopping } }

    private func record(_ change: (inout Counts) -> Void) { lock.withLock { change(&counts) } }

    private func fail(_ what: String) { record { $0.failures.append(what) } }

    /// Starts every client and returns once each is running: on a loaded machine (the whole
    /// suite under ThreadSanitizer) a thread can take seconds to get going, and a client that
    /// begins after the events it should live through proves nothing.
    func start() throws {
        for transport in Transport.allCases {
            for _ in 0..<2 { spawn { $0.keepAliveClient(transport) } }
            spawn { $0.newConnectionClient(transport) }
            spawn { $0.slowUploads(transport) }
        }
        spawn { $0.webSocket() }
        let deadline = Date().addingTimeInterval(60)
        while lock.withLock({ running }) < threads.count {
            guard Date() < deadline else { throw HarnessError("only \(lock.withLock { running }) of \(threads.count) load clients started") }
            usleep(1000)
        }
    }

    /// Stops the clients (the WebSocket closes normally) and waits for them.
    func stop() {
        lock.withLock { stopping = true }
        for thread in threads { thread.waitUntilFinished() }
    }

    private func spawn(_ body: @escaping @Sendable (SteadyLoad) -> Void) {
        let thread = Thread { [self] in
            lock.withLock { running += 1 }
            body(self)
        }
        threads.append(thread)
        thread.start()
    }

    private func keepAliveClient(_ transport: Transport) {
        var client: TestClient?
        var reused = false
        while !shouldStop {
            do {
                if client == nil {
                    client = try TestClient(port: port(transport), transport: transport)
                    reused = false
                }
                let connection = client!
                let before = connection.bytesReceived
                do {
                    try connection.send("GET /bytes/100 HTTP/1.1\r\nHost: a\r\n\r\n")
                    let response = try connection.readResponse()
                    guard response.status == 200, response.body.count == 100 else {
                        fail("\(transport) keep-alive: status \(response.status), \(response.body.count) bytes")
                        client = nil
                        continue
                    }
                    record { $0.requests += 1 }
                    reused = true
                    if response.header("Connection")?.lowercased() == "close" { client = nil }
                } catch where reused && connection.bytesReceived == before {
                    record { $0.retries += 1 }
                    client = nil
                }
            } catch {
                fail("\(transport) keep-alive: \(error)")
                client = nil
            }
        }
    }

    private func newConnectionClient(_ transport: Transport) {
        while !shouldStop {
            let started = Date()
            do {
                let client = try TestClient(port: port(transport), transport: transport)
                try client.send("GET /bytes/10 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                let response = try client.readResponse()
                let waited = Date().timeIntervalSince(started)
                guard response.status == 200, response.body.count == 10 else {
                    fail("\(transport) new connection: status \(response.status)")
                    continue
                }
                record {
                    $0.requests += 1
                    $0.longestNewConnection = max($0.longestNewConnection, waited)
                }
            } catch {
                fail("\(transport) new connection: \(error)")
            }
        }
    }

    /// 64 KiB bodies sent 4 KiB every 20 ms (about 0.3 s each), one after another; the origin's
    /// digest (length and CRC-32) must match.
    private func slowUploads(_ transport: Transport) {
        let body = (0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let expected = "bytes=\(body.count) crc32=\(body.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) })"
        while !shouldStop {
            do {
                let client = try TestClient(port: port(transport), transport: transport)
                try client.send("POST /digest HTTP/1.1\r\nHost: a\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n")
                for start in stride(from: 0, to: body.count, by: 4096) {
                    try client.send(Array(body[start..<min(body.count, start + 4096)]))
                    usleep(20_000)
                }
                let response = try client.readResponse()
                guard response.status == 200, response.text.trimmingCharacters(in: .whitespacesAndNewlines) == expected else {
                    fail("\(transport) slow upload: status \(response.status), digest \(response.text) (expected \(expected))")
                    continue
                }
                record { $0.uploads += 1 }
            } catch {
                fail("\(transport) slow upload: \(error)")
            }
        }
    }

    /// One WebSocket for the whole run: a masked text frame every 50 ms, each echoed; at the end
    /// a close frame, answered by a close frame.
    private func webSocket() {
        do {
            let client = try TestClient(port: plainPort, transport: .plain)
            try client.send("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
            guard try client.readResponse(head: true).status == 101 else { return fail("websocket: no 101") }
            var sequence = 0
            while !shouldStop {
                sequence += 1
                let payload = Array("echo \(sequence)".utf8)
                try client.send(Self.maskedFrame(opcode: 1, payload))
                let echoed = try Self.readFrame(client, payloadCount: payload.count)
                guard echoed == [0x81, UInt8(payload.count)] + payload else { return fail("websocket: echo \(sequence) was \(echoed)") }
                record { $0.webSocketEchoes += 1 }
                usleep(50_000)
            }
            try client.send(Self.maskedFrame(opcode: 8, []))
            let closing = try Self.readFrame(client, payloadCount: 0)
            record { $0.webSocketClosedNormally = closing == [0x88, 0] }
        } catch {
            fail("websocket: \(error)")
        }
    }

    private static func maskedFrame(opcode: UInt8, _ payload: [UInt8]) -> [UInt8] {
        let mask: [UInt8] = [9, 8, 7, 6]
        return [0x80 | opcode, 0x80 | UInt8(payload.count)] + mask + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    }

    private static func readFrame(_ client: TestClient, payloadCount: Int) throws -> [UInt8] {
        var received: [UInt8] = []
        while received.count < 2 + payloadCount {
            var chunk = [UInt8](repeating: 0, count: 256)
            let count = chunk.withUnsafeMutableBytes { client.receive(into: $0.baseAddress!, count: 2 + payloadCount - received.count) }
            guard count > 0 else {
                let how = count == 0 ? "closed" : "failed (\(String(cString: strerror(errno))), the receive timeout included)"
                throw HarnessError("websocket \(how) after \(received.count) bytes of a frame")
            }
            received += chunk[0..<count]
        }
        return received
    }

    var summary: String {
        let counts = now
        return "\(counts.requests) requests, \(counts.retries) retried, \(counts.uploads) slow uploads, \(counts.webSocketEchoes) WebSocket echoes, "
            + "longest new connection \(Int(counts.longestNewConnection * 1000)) ms, \(counts.failures.count) failures"
    }
}

/// Sleeps until `due`, or not at all once it has passed. The time left is read once: checked
/// and then read again, it could turn negative in between, and converting a negative interval
/// to `usleep`'s `UInt32` traps (it crashed a whole test run once).
func sleep(until due: Date) {
    let seconds = due.timeIntervalSinceNow
    if seconds > 0 { usleep(UInt32(seconds * 1_000_000)) }
}
