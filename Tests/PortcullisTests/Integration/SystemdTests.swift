import Foundation
import Glibc
import Testing

/// The gateway under a service manager, with the test as systemd: readiness, reload, stop and
/// watchdog notifications on the test's own `NOTIFY_SOCKET`, and listeners handed over by
/// socket activation.
@Suite struct SystemdTests {
    private static let token = ["PORTCULLIS_ADMIN_TOKEN": GatewayUnderTest.adminToken]

    @Test func readinessReloadStopAndWatchdogAreNotified() throws {
        let origin = try Origin()
        let notify = try NotifySocket()
        let gateway = try GatewayUnderTest(upstreams: [origin.port],
                                           environment: Self.token.merging(["NOTIFY_SOCKET": notify.name, "WATCHDOG_USEC": "200000"]) { $1 },
                                           waitUntilReady: false)
        let ready = try #require(notify.messages(until: "READY=1"), "READY=1 was never sent: \(gateway.child.output)")
        #expect(ready.count == 1, "nothing before READY=1: \(ready)")
        #expect(ready[0].contains("STATUS=serving generation 1 on http://127.0.0.1:"), "\(ready[0])")
        // Ready means serving: the listener answers at once.
        let port = try #require(ready[0].split(separator: ":").last.flatMap { UInt16($0.prefix { $0.isNumber }) })
        #expect(try TestClient.get(port: port, "/bytes/1").status == 200)

        // WATCHDOG_USEC=200000: a ping every 100 ms. Pings queued while the request above was
        // served (slow under a sanitizer: CI under TSan counted 8) are not part of the window.
        while notify.next(seconds: 0) != nil {}
        let started = Date()
        var pings = 0
        while Date().timeIntervalSince(started) < 0.55, notify.next(seconds: 0.5) == "WATCHDOG=1" { pings += 1 }
        #expect((4...7).contains(pings), "\(pings) watchdog pings in 0.55 s")

        gateway.child.send(SIGHUP)
        let reload = try #require(notify.messages(until: "READY=1").map { $0.filter { $0 != "WATCHDOG=1" } })
        #expect(reload.count == 2 && reload[0].hasPrefix("RELOADING=1\nMONOTONIC_USEC="), "\(reload)")
        let sentAt = reload.first.flatMap { $0.split(separator: "=").last }.flatMap { UInt64($0) } ?? 0
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let nowMicroseconds = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
        #expect(sentAt <= nowMicroseconds && nowMicroseconds - sentAt < 5_000_000, "MONOTONIC_USEC is the monotonic clock now")
        #expect(reload.last?.contains("STATUS=serving generation 2") == true, "\(reload)")

        try "not = [valid".write(to: gateway.configURL, atomically: true, encoding: .utf8)
        gateway.child.send(SIGHUP)
        let refused = try #require(notify.messages(until: "READY=1").map { $0.filter { $0 != "WATCHDOG=1" } })
        #expect(refused.last?.contains("STATUS=reload refused (see the log); serving generation 2") == true, "\(refused)")

        gateway.child.send(SIGTERM)
        #expect(notify.messages(until: "STOPPING=1") != nil)
        #expect(gateway.child.waitForExit(seconds: 15) == 0)
    }

    @Test func anAbstractSocketIsNotifiedToo() throws {
        let origin = try Origin()
        let notify = try NotifySocket(abstract: true)
        let gateway = try GatewayUnderTest(upstreams: [origin.port], environment: Self.token.merging(["NOTIFY_SOCKET": notify.name]) { $1 })
        #expect(notify.next()?.hasPrefix("READY=1\n") == true)
        // No WATCHDOG_USEC: no pings.
        #expect(notify.next(seconds: 0.3) == nil)
        withExtendedLifetime(gateway) {}
    }

    /// The listeners' sockets (public and admin) are bound by the test without `SO_REUSEPORT`: a
    /// gateway binding its own on those addresses would fail to start, so serving proves it took
    /// the ones handed over.
    @Test func listenersComeFromSocketActivation() throws {
        let origin = try Origin()
        let listener = try Self.listeningSocket()
        let admin = try Self.listeningSocket()
        let gateway = try GatewayUnderTest(upstreams: [origin.port], environment: Self.token, activated: [listener.fd, admin.fd],
                                           listenAddress: "127.0.0.1:\(listener.port)", adminAddress: "127.0.0.1:\(admin.port)")
        close(listener.fd)
        close(admin.fd)
        #expect(gateway.port == listener.port && gateway.adminPort == admin.port)
        #expect(try TestClient.get(port: admin.port, "/healthz").status == 200, "the admin listener took its socket too")
        #expect(gateway.child.output.contains("http://127.0.0.1:\(listener.port): 1 socket(s) from systemd"))
        for _ in 0..<20 { #expect(try TestClient.get(port: listener.port, "/bytes/1").status == 200) }
        let keepAlive = try TestClient(port: listener.port)
        for _ in 0..<5 {
            try keepAlive.send("GET /bytes/1 HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try keepAlive.readResponse().status == 200)
        }
    }

    /// A socket systemd passed that no listener is configured for is closed, with a warning.
    @Test func anUnclaimedSocketIsClosed() throws {
        let origin = try Origin()
        let stray = try Self.listeningSocket()
        let gateway = try GatewayUnderTest(upstreams: [origin.port], environment: Self.token, activated: [stray.fd])
        close(stray.fd)
        #expect(gateway.child.output.contains("no listener is configured for 127.0.0.1:\(stray.port); its socket is closed"))
        #expect(!TestClient.canConnect(port: stray.port), "nobody holds it open")
    }

    /// A listening TCP socket on a free loopback port, as a `.socket` unit makes it (blocking).
    private static func listeningSocket() throws -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound, listen(fd, 128) == 0 else { throw HarnessError("cannot listen: \(String(cString: strerror(errno)))") }
        return (fd, UInt16(bigEndian: address.sin_port))
    }
}
