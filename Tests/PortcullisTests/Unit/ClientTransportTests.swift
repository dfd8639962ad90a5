@testable import Portcullis
import CShims
import Glibc
import Testing

/// The client transport's bookkeeping over a real non-blocking socket pair: what edge-triggered
/// readiness allows (a short read means "wait for the next edge", unless a FIN is pending), the
/// end of the stream, hang-ups, a full send buffer and writes to a peer that is gone.
@Suite struct ClientTransportTests {
    /// A plain transport on one end of a connected socket pair, and the peer's end.
    private final class Pair {
        let transport = ClientTransport(tls: nil)
        let pool = BufferPool()
        let local: Int32
        let peer: Int32

        init() throws {
            (local, peer) = try nonBlockingSocketPair()
            transport.borrowInput(from: pool)
            transport.borrowOutput(from: pool)
        }

        deinit {
            transport.returnBuffers(to: pool)
            Glibc.close(local)
            Glibc.close(peer)
        }

        func peerSends(_ text: String) {
            _ = text.withCString { Glibc.send(peer, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        }

        func peerReceives() -> String {
            var bytes = [UInt8](repeating: 0, count: 4096)
            let count = recv(peer, &bytes, bytes.count, 0)
            return String(decoding: bytes.prefix(max(count, 0)), as: UTF8.self)
        }
    }

    @Test func aShortReadWaitsForTheNextEdge() throws {
        let pair = try Pair()
        #expect(pair.transport.read(from: pair.local) == .nothing, "not readable until epoll says so")
        pair.peerSends("GET / HTTP/1.1\r\n\r\n")
        pair.transport.note(events: EPOLLIN.rawValue)
        #expect(pair.transport.read(from: pair.local) == .bytes(18))
        #expect(pair.transport.input.bytes == Array("GET / HTTP/1.1\r\n\r\n".utf8))
        #expect(!pair.transport.readable, "a short read emptied the socket")
        pair.peerSends("more")
        #expect(pair.transport.read(from: pair.local) == .nothing, "no read without a new edge")
        pair.transport.note(events: EPOLLIN.rawValue)
        #expect(pair.transport.read(from: pair.local) == .bytes(4))
    }

    /// With the FIN reported (EPOLLRDHUP) a short read does not end the reading: the end of
    /// the stream is read next, and nothing after it.
    @Test func aReportedFinIsReadToTheEnd() throws {
        let pair = try Pair()
        pair.peerSends("last request")
        shutdown(pair.peer, Int32(SHUT_WR))
        pair.transport.note(events: EPOLLIN.rawValue | EPOLLRDHUP.rawValue)
        #expect(pair.transport.read(from: pair.local) == .bytes(12))
        #expect(pair.transport.readable && !pair.transport.peerClosed)
        #expect(pair.transport.read(from: pair.local) == .endOfStream)
        #expect(pair.transport.peerClosed && !pair.transport.readable)
        pair.transport.note(events: EPOLLIN.rawValue)
        #expect(pair.transport.read(from: pair.local) == .nothing, "nothing is read after the end of the stream")
    }

    @Test func aHangUpMakesBothDirectionsReady() throws {
        let pair = try Pair()
        pair.transport.sendBlocked(now: 1)
        pair.transport.note(events: EPOLLHUP.rawValue)
        #expect(pair.transport.broken && pair.transport.readable && pair.transport.writable)
    }

    @Test func writesWhatTheOutputHolds() throws {
        let pair = try Pair()
        #expect(pair.transport.write(to: pair.local) == .nothing, "nothing to send")
        pair.transport.output.append("HTTP/1.1 200 OK\r\n\r\n")
        #expect(pair.transport.write(to: pair.local) == .wrote(19))
        #expect(pair.transport.output.isEmpty && pair.transport.bytesFlushed == 19)
        #expect(pair.peerReceives() == "HTTP/1.1 200 OK\r\n\r\n")
    }

    /// A peer that reads nothing: sends stop at a full buffer, the time it filled is kept
    /// (not moved by later attempts) until epoll reports the socket writable again.
    @Test func aFullSendBufferBlocksUntilWritable() throws {
        let pair = try Pair()
        var size: Int32 = 4096
        setsockopt(pair.local, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        let chunk = [UInt8](repeating: 0x61, count: 64 * 1024)
        var outcome = ClientTransport.WriteOutcome.nothing
        var appended: Int64 = 0
        for _ in 0..<64 {
            pair.transport.output.append(chunk)
            appended += Int64(chunk.count)
            outcome = pair.transport.write(to: pair.local)
            if outcome == .blocked { break }
        }
        #expect(outcome == .blocked)
        pair.transport.sendBlocked(now: 5)
        pair.transport.sendBlocked(now: 9)
        #expect(!pair.transport.writable && pair.transport.sendBlockedSince == 5)
        #expect(pair.transport.write(to: pair.local) == .nothing, "no send until the socket is writable")
        #expect(pair.transport.bytesFlushed > 0 && pair.transport.bytesFlushed + Int64(pair.transport.output.readableCount) == appended)
        pair.transport.note(events: EPOLLOUT.rawValue)
        #expect(pair.transport.writable)
    }

    @Test func writingToAPeerThatIsGoneFails() throws {
        let pair = try Pair()
        Glibc.shutdown(pair.peer, Int32(SHUT_RDWR))
        pair.transport.output.append("too late")
        #expect(pair.transport.write(to: pair.local) == .failed)
    }

    /// Lingering: what the client still sends is read and dropped; its end ends the lingering.
    @Test func lingeringDiscardsUntilTheEnd() throws {
        let pair = try Pair()
        pair.peerSends("unread body bytes")
        pair.transport.note(events: EPOLLIN.rawValue)
        #expect(pair.transport.discardIncoming(from: pair.local) == true)
        #expect(pair.transport.input.isEmpty)
        shutdown(pair.peer, Int32(SHUT_WR))
        #expect(pair.transport.discardIncoming(from: pair.local) == nil)
    }
}
