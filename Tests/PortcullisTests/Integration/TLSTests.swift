import COpenSSL
import CShims
import Foundation
import Glibc
import Synchronization
import Testing

/// HTTPS through the real binary: SNI, versions, ALPN, resumption, certificate reloads.
@Suite struct TLSTests {
    let origin: Origin
    let directory: URL
    let exact: (String, String)
    let wildcard: (String, String)
    let fallback: (String, String)
    let rsa: (String, String)

    init() throws {
        origin = try Origin()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        exact = try TestCertificates.make(["a.test"], in: directory, file: "a")
        wildcard = try TestCertificates.make(["*.b.test"], in: directory, file: "b")
        fallback = try TestCertificates.make(["default.test"], in: directory, file: "default")
        rsa = try TestCertificates.make(["rsa.test"], in: directory, file: "rsa", rsa: true)
    }

    private func certificatesConfig(reject: Bool = false, minimum: String = "1.2") -> String {
        """
        [tls]
        min_version = "\(minimum)"
        unknown_server_name = "\(reject ? "reject" : "default")"
        handshake_timeout = "500ms"

        [[certificates]]
        cert = "\(exact.0)"
        key = "\(exact.1)"

        [[certificates]]
        cert = "\(wildcard.0)"
        key = "\(wildcard.1)"

        [[certificates]]
        cert = "\(rsa.0)"
        key = "\(rsa.1)"

        [[certificates]]
        cert = "\(fallback.0)"
        key = "\(fallback.1)"
        default = true
        """
    }

    @Test func sniPicksTheCertificate() throws {
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: certificatesConfig(), https: true)
        func serial(_ name: String?) throws -> String {
            try TLSTestClient(port: gateway.tlsPort, options: .init(serverName: name)).peerSerial
        }
        #expect(try serial("a.test") == TestCertificates.serial(of: exact.0))
        #expect(try serial("A.TEST") == TestCertificates.serial(of: exact.0))
        #expect(try serial("x.b.test") == TestCertificates.serial(of: wildcard.0))
        #expect(try serial("rsa.test") == TestCertificates.serial(of: rsa.0), "RSA and ECDSA side by side")
        #expect(try serial("deep.x.b.test") == TestCertificates.serial(of: fallback.0), "a wildcard covers one label")
        #expect(try serial("unknown.test") == TestCertificates.serial(of: fallback.0))
        #expect(try serial(nil) == TestCertificates.serial(of: fallback.0))
        let client = try TLSTestClient(port: gateway.tlsPort, options: .init(serverName: "a.test"))
        let response = try client.get("/headers")
        #expect(response.status == 200)
        #expect(response.body.contains("X-Forwarded-Proto: https\r\n"))
    }

    @Test func unknownServerNameCanBeRefused() throws {
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: certificatesConfig(reject: true), https: true)
        #expect(throws: HarnessError.self) { try TLSTestClient(port: gateway.tlsPort, options: .init(serverName: "unknown.test")) }
        #expect(try TLSTestClient(port: gateway.tlsPort, options: .init(serverName: "a.test")).version == "TLSv1.3")
    }

    @Test func oldVersionsAreRefused() throws {
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: certificatesConfig(), https: true)
        for version: Int32 in [0x0301, 0x0302] {
            #expect(throws: HarnessError.self) { try TLSTestClient(port: gateway.tlsPort, options: .init(maxVersion: version)) }
        }
        #expect(try TLSTestClient(port: gateway.tlsPort, options: .init(maxVersion: 0x0303)).version == "TLSv1.2")
        #expect(try TLSTestClient(port: gateway.tlsPort).version == "TLSv1.3")
        let strict = try GatewayUnderTest(upstreams: [origin.port], extra: certificatesConfig(minimum: "1.3"), https: true)
        #expect(throws: HarnessError.self) { try TLSTestClient(port: strict.tlsPort, options: .init(maxVersion: 0x0303)) }
        #expect(try gateway.metric("portcullis_tls_handshake_failures_total") ?? 0 >= 2)
    }

    /// `http/1.1` when offered, else `http/1.0` (what `curl -0` offers: it was once refused, so
    /// HTTP/1.0 clients could not reach the gateway over TLS); anything else alone is refused.
    @Test func alpnSelectsHTTP1() throws {
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: certificatesConfig(), https: true)
        #expect(try TLSTestClient(port: gateway.tlsPort, options: .init(alpn: ["h2", "http/1.1"])).alpn == "http/1.1")
        #expect(try TLSTestClient(port: gateway.tlsPort, options: .init(alpn: ["http/1.0", "http/1.1"])).alpn == "http/1.1")
        let http10 = try TLSTestClient(port: gateway.tlsPort, options: .init(alpn: ["http/1.0"]))
        #expect(http10.alpn == "http/1.0")
        #expect(try http10.get("/bytes/3").status == 200)
        #expect(try TLSTestClient(port: gateway.tlsPort, options: .init(alpn: [])).alpn == nil)
        for refused in [["h2"], ["http/1.2"], ["http/1.10"], ["http/1."]] {
            #expect(throws: HarnessError.self, "\(refused)") { try TLSTestClient(port: gateway.tlsPort, options: .init(alpn: refused)) }
        }
    }

    @Test func sessionsResume() throws {
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: certificatesConfig(), https: true)
        for maxVersion: Int32 in [0x0303, 0] {
            let first = try TLSTestClient(port: gateway.tlsPort, options: .init(maxVersion: maxVersion))
            #expect(try first.get("/bytes/3").status == 200)  // TLS 1.3 tickets arrive after the handshake
            let session = try #require(first.session())
            defer { SSL_SESSION_free(session) }
            let second = try TLSTestClient(port: gateway.tlsPort, options: .init(maxVersion: maxVersion, session: session))
            #expect(second.sessionReused, "resumption with max version \(maxVersion)")
        }
    }

    @Test func ticketKeysRotate() throws {
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: certificatesConfig().replacingOccurrences(
            of: "handshake_timeout = \"500ms\"", with: "handshake_timeout = \"500ms\"\nticket_key_rotation = \"2s\""), https: true)
        func ticket() throws -> OpaquePointer {
            let client = try TLSTestClient(port: gateway.tlsPort, options: .init(maxVersion: 0x0303))
            _ = try client.get("/bytes/1")
            return try #require(client.session())
        }
        func resumes(_ session: OpaquePointer) throws -> Bool {
            try TLSTestClient(port: gateway.tlsPort, options: .init(maxVersion: 0x0303, session: session)).sessionReused
        }
        // In step with the rotation timer rather than at some phase of it: right after a
        // rotation a ticket resumes; after the next one it no longer does.
        func waitForRotation() {
            let seen = gateway.child.lineCount(containing: "session ticket key rotated")
            #expect(gateway.child.waitFor(seconds: 10) { gateway.child.lineCount(containing: "session ticket key rotated") > seen })
        }
        waitForRotation()
        let fresh = try ticket()
        defer { SSL_SESSION_free(fresh) }
        #expect(try resumes(fresh))
        waitForRotation()
        #expect(try !resumes(fresh), "after a rotation the old ticket gets a full handshake")
    }

    @Test func ticketsSurviveCertificateReloads() throws {
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: certificatesConfig(), https: true)
        let first = try TLSTestClient(port: gateway.tlsPort, options: .init(maxVersion: 0x0303))
        _ = try first.get("/bytes/1")
        let session = try #require(first.session())
        defer { SSL_SESSION_free(session) }
        gateway.child.send(SIGHUP)
        #expect(gateway.child.waitFor(seconds: 5) { gateway.child.output.contains("configuration reloaded (generation 2)") })
        #expect(try TLSTestClient(port: gateway.tlsPort, options: .init(maxVersion: 0x0303, session: session)).sessionReused)
    }

    @Test func handshakeTimeoutDisconnects() throws {
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: certificatesConfig(), https: true)
        let silent = try TestClient(port: gateway.tlsPort)
        let started = Date()
        #expect(silent.isClosedByPeer())
        #expect(Date().timeIntervalSince(started) < 3)
    }

    @Test func reloadSwapsCertificatesOrKeepsTheOldOnes() throws {
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: certificatesConfig(), https: true)
        let oldSerial = TestCertificates.serial(of: exact.0)
        let held = try TLSTestClient(port: gateway.tlsPort, options: .init(serverName: "a.test"))
        func reload() throws -> TestResponse {
            let client = try TestClient(port: gateway.adminPort)
            try client.send("POST /admin/certs/reload HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer \(GatewayUnderTest.adminToken)\r\nContent-Length: 0\r\n\r\n")
            return try client.readResponse()
        }
        // Garbage in the certificate file: refused, the old certificate stays.
        let original = try Data(contentsOf: URL(fileURLWithPath: exact.0))
        try Data("not a certificate".utf8).write(to: URL(fileURLWithPath: exact.0))
        let garbage = try reload()
        #expect(garbage.status == 422 && garbage.text.contains("cannot load the certificate chain"))
        #expect(try TLSTestClient(port: gateway.tlsPort, options: .init(serverName: "a.test")).peerSerial == oldSerial)
        // A key that does not match: refused.
        try original.write(to: URL(fileURLWithPath: exact.0))
        let otherKey = try Data(contentsOf: URL(fileURLWithPath: wildcard.1))
        let originalKey = try Data(contentsOf: URL(fileURLWithPath: exact.1))
        try otherKey.write(to: URL(fileURLWithPath: exact.1))
        let mismatch = try reload()
        #expect(mismatch.status == 422 && mismatch.text.contains("key values mismatch"))
        try originalKey.write(to: URL(fileURLWithPath: exact.1))
        // A renewed certificate: new handshakes see it, the connection made before keeps working.
        let renewed = try TestCertificates.make(["a.test"], in: directory, file: "a")
        let success = try reload()
        #expect(success.status == 200)
        let newSerial = TestCertificates.serial(of: renewed.0)
        #expect(newSerial != oldSerial)
        #expect(try TLSTestClient(port: gateway.tlsPort, options: .init(serverName: "a.test")).peerSerial == newSerial)
        #expect(try held.get("/bytes/5").body == "abcde")
        let anonymous = try TestClient(port: gateway.adminPort)
        try anonymous.send("POST /admin/certs/reload HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
        #expect(try anonymous.readResponse().status == 401)
    }

    @Test func twentyReloadsDuringTrafficLoseNothing() throws {
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: certificatesConfig(), https: true)
        let failures = Atomic<Int>(0)
        let served = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
        let port = gateway.tlsPort
        let load = (0..<3).map { _ in
            Thread {
                while !stop.load(ordering: .relaxed) {
                    do {
                        let client = try TLSTestClient(port: port, options: .init(serverName: "a.test"))
                        let response = try client.get("/bytes/64")
                        if response.status == 200 && response.body.count == 64 { served.add(1, ordering: .relaxed) } else { failures.add(1, ordering: .relaxed) }
                    } catch {
                        failures.add(1, ordering: .relaxed)
                    }
                }
            }
        }
        load.forEach { $0.start() }
        var lastSerial = ""
        for round in 1...20 {
            let renewed = try TestCertificates.make(["a.test"], in: directory, file: "a")
            lastSerial = TestCertificates.serial(of: renewed.0)
            gateway.child.send(SIGHUP)
            #expect(gateway.child.waitFor(seconds: 10) { gateway.child.lineCount(containing: "configuration reloaded") >= round })
        }
        _ = gateway.child.waitFor(seconds: 20) { served.load(ordering: .relaxed) >= 30 }
        stop.store(true, ordering: .relaxed)
        load.forEach { $0.waitUntilFinished() }
        #expect(failures.load(ordering: .relaxed) == 0)
        #expect(served.load(ordering: .relaxed) >= 30)
        #expect(try TLSTestClient(port: gateway.tlsPort, options: .init(serverName: "a.test")).peerSerial == lastSerial)
    }

    @Test func selfSignedDevelopmentCertificate() throws {
        let dev = directory.appendingPathComponent("dev").path
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: "[tls]\nself_signed_dev = true\ndev_certificate_dir = \"\(dev)\"\n", https: true)
        #expect(gateway.child.output.contains("SELF-SIGNED DEVELOPMENT CERTIFICATE"))
        let client = try TLSTestClient(port: gateway.tlsPort)
        #expect(try client.get("/bytes/2").body == "ab")
        var info = stat()
        #expect(stat(dev + "/dev-localhost-key.pem", &info) == 0 && info.st_mode & 0o077 == 0)
    }
}
