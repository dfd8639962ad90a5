@testable import Portcullis
import Glibc
import Testing

/// The upstream binding over real loopback sockets and a real worker, without a gateway
/// process: which server an attempt goes to and what it sends there, when a connection goes
/// back to its server's idle list and when it is closed, when a server is blamed, and when
/// another attempt may follow.
@Suite struct UpstreamBindingTests {
    /// A worker (its loop never runs) with one upstream pool over `servers`, a client
    /// connection on a socket pair to own the attempts, and the binding under test.
    private final class Bench {
        let worker: Worker
        let owner: ClientConnection
        let binding: UpstreamBinding
        private let peer: Int32

        init(servers: [UInt16], maxFails: Int = 3) throws {
            worker = try Worker.forTests(servers: servers, upstreamOptions: "max_fails = \(maxFails)")
            let (local, peer) = try nonBlockingSocketPair()
            self.peer = peer
            owner = ClientConnection(fd: local, worker: worker,
                                     forwarding: ForwardingContext(peerIP: Array("127.0.0.1".utf8), scheme: "http", port: Array("18080".utf8)),
                                     localHost: [], peerAddress: IPAddress("127.0.0.1")!, countedPerAddress: false, tls: nil)
            binding = UpstreamBinding(buffers: worker.buffers)
        }

        deinit {
            binding.unbind(reuse: false, now: worker.loop.now)
            owner.close()
            Glibc.close(peer)
            worker.releaseForTests()
        }

        var pool: UpstreamPool { worker.pools[0] }

        /// A new request bound to the pool, with `head` as its forwarded head.
        func bind(head: String) {
            binding.bind(to: pool)
            binding.forwardedHead.append(Array(head.utf8))
        }

        func attach(fresh: Bool = false) -> ExchangeFailure? {
            binding.attach(fresh: fresh, for: owner, worker: worker)
        }

        func retry(after failure: ExchangeFailure, method: HTTPMethod = .get) -> ExchangeFailure.Retry? {
            binding.retry(after: failure, method: method, framing: .none, bodyForwarded: false)
        }
    }

    @Test func anAttemptCarriesTheForwardedHeadAndTheNextGoesToAnotherServer() throws {
        let first = ListeningPort(), second = ListeningPort()
        let bench = try Bench(servers: [first.port, second.port])
        bench.bind(head: "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(bench.attach() == nil)
        let connection = try #require(bench.binding.connection)
        #expect(connection.fd >= 0 && connection.owner === bench.owner && !connection.reused)
        #expect(connection.output.bytes == Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8))
        #expect(bench.binding.attempts == 1)
        let firstServer = try #require(bench.binding.server)

        bench.binding.abandonAttempt(after: .connectTimeout, now: bench.worker.loop.now)
        #expect(connection.fd == -1 && bench.binding.connection == nil, "an abandoned attempt's connection is closed")
        #expect(bench.retry(after: .connectTimeout) == .nextServer)
        // Another request takes the next server meanwhile: round robin is back at the first.
        #expect(bench.pool.pick(now: bench.worker.loop.now) !== firstServer)
        #expect(bench.attach() == nil)
        #expect(bench.binding.server !== firstServer, "the retry skips the server that failed")
        #expect(bench.binding.connection?.output.bytes == Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8), "the retry resends the head")
        #expect(bench.binding.attempts == 2)
        #expect(bench.retry(after: .connectTimeout) == nil, "every server was tried")
    }

    @Test func aCleanConnectionGoesBackToItsServerAndIsReused() throws {
        let origin = ListeningPort()
        let bench = try Bench(servers: [origin.port])
        bench.bind(head: "GET /one HTTP/1.1\r\n\r\n")
        #expect(bench.attach() == nil)
        let connection = try #require(bench.binding.connection)
        let server = try #require(bench.binding.server)
        bench.binding.unbind(reuse: true, now: bench.worker.loop.now)
        #expect(server.idle.count == 1 && connection.fd >= 0 && connection.owner == nil)
        #expect(bench.retry(after: .connectTimeout) == nil, "no attempt follows an exchange that ended")

        bench.bind(head: "GET /two HTTP/1.1\r\n\r\n")
        #expect(bench.attach() == nil)
        #expect(bench.binding.connection === connection && connection.reused)
        #expect(connection.output.bytes == Array("GET /two HTTP/1.1\r\n\r\n".utf8), "nothing of the last exchange is left")
        #expect(server.idle.isEmpty)

        // A reused connection the upstream had closed: once more, on a new connection.
        bench.binding.abandonAttempt(after: .reset(reusedIdle: true), now: bench.worker.loop.now)
        #expect(bench.retry(after: .reset(reusedIdle: true)) == .newConnection)
        #expect(bench.retry(after: .reset(reusedIdle: true), method: .post) == nil, "a POST is never resent")
        #expect(bench.attach(fresh: true) == nil)
        #expect(bench.binding.connection !== connection && bench.binding.connection?.reused == false)
    }

    @Test func aConnectionWithUnreadBytesOrAtItsEndIsClosedNotPooled() throws {
        let origin = ListeningPort()
        let bench = try Bench(servers: [origin.port])
        for spoil in [{ (c: UpstreamConnection) in c.input.append("HTTP/1.1 200 OK\r\n") }, { $0.endOfStream = true }] {
            bench.bind(head: "GET / HTTP/1.1\r\n\r\n")
            #expect(bench.attach() == nil)
            let connection = try #require(bench.binding.connection)
            spoil(connection)
            bench.binding.unbind(reuse: true, now: bench.worker.loop.now)
            #expect(connection.fd == -1 && bench.binding.server?.idle.isEmpty == true)
        }
        bench.bind(head: "GET / HTTP/1.1\r\n\r\n")
        #expect(bench.attach() == nil)
        let connection = try #require(bench.binding.connection)
        bench.binding.unbind(reuse: false, now: bench.worker.loop.now)
        #expect(connection.fd == -1, "an exchange that failed never pools its connection")
    }

    /// `max_fails = 1`: one failure the server is to blame for takes it out of rotation; a
    /// pooled connection the server had closed says nothing about the server.
    @Test func onlyFailuresTheServerCausedMarkItDown() throws {
        let origin = ListeningPort()
        let bench = try Bench(servers: [origin.port], maxFails: 1)
        bench.bind(head: "GET / HTTP/1.1\r\n\r\n")
        #expect(bench.attach() == nil)
        bench.binding.abandonAttempt(after: .reset(reusedIdle: true), now: bench.worker.loop.now)
        #expect(bench.attach(fresh: true) == nil, "a closed idle connection does not blame its server")
        bench.binding.abandonAttempt(after: .responseTimeout, now: bench.worker.loop.now)
        #expect(bench.attach(fresh: true) == .noLiveServer)
        #expect(bench.binding.connection == nil)
        bench.binding.unbind(reuse: false, now: bench.worker.loop.now)
        bench.bind(head: "GET / HTTP/1.1\r\n\r\n")
        #expect(bench.attach() == .noLiveServer, "the server stays down for the next request")
    }
}
