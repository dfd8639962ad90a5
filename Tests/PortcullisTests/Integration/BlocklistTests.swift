import Foundation
import Glibc
import Testing

/// The IP blocklist through the real binary: closed at accept, allow entries, the admin API
/// (persisted before it answers, bad input changes nothing), TTLs, trusted proxies and the CLI.
/// Clients use other loopback addresses (127.0.0.2 …) as their source.
@Suite struct BlocklistTests {
    let origin: Origin
    let file: URL

    init() throws {
        origin = try Origin()
        file = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-blocklist-\(UUID().uuidString).txt")
    }

    private func gateway(file initial: String, extra: String = "") throws -> GatewayUnderTest {
        try initial.write(to: file, atomically: true, encoding: .utf8)
        return try GatewayUnderTest(upstreams: [origin.port], extra: """
            [blocklist]
            file = "\(file.path)"
            prune_interval = "200ms"
            \(extra)
            """, bothTransports: true)
    }

    /// True when a connection from `source` gets a response; false when it is closed unanswered
    /// (over TLS: before the handshake completes).
    private func served(_ gateway: GatewayUnderTest, from source: String, over transport: Transport = .plain) throws -> Bool {
        guard let client = try? TestClient(port: gateway.port(for: transport), transport: transport, source: source) else { return false }
        try? client.send("GET /bytes/3 HTTP/1.1\r\nHost: a\r\n\r\n")
        return (try? client.readResponse().status) == 200
    }

    private var fileText: String { (try? String(contentsOf: file, encoding: .utf8)) ?? "" }

    @Test func blockedAddressesAreClosedAtAcceptAndAllowsOverride() throws {
        let gateway = try gateway(file: "127.0.0.0/24 # loopback test range\nallow 127.0.0.1\n127.0.1.5 expires=2001-01-01T00:00:00Z\n")
        #expect(try served(gateway, from: "127.0.0.1"), "allow overrides the /24")
        #expect(try !served(gateway, from: "127.0.0.2"))
        #expect(try served(gateway, from: "127.0.1.5"), "an expired entry is ignored")
        #expect(try served(gateway, from: "127.0.1.6"))
        #expect(try gateway.metric("portcullis_blocked_total{stage=\"connection\"}") == 1)
    }

    @Test(arguments: Transport.allCases) func anAllowEntryDoesNotSwitchOffOtherBlocks(_ transport: Transport) throws {
        // The black-box finding: one allow line of the same prefix length disabled every block.
        let gateway = try gateway(file: "127.0.0.51\nallow 10.9.9.9\n127.0.1.0/24\nallow 10.9.9.0/24\nallow 2001:db8::9\n")
        #expect(try !served(gateway, from: "127.0.0.51", over: transport))
        #expect(try !served(gateway, from: "127.0.1.7", over: transport))
        #expect(try served(gateway, from: "127.0.0.52", over: transport))
        let expired = try self.gateway(file: "127.0.0.51\nallow 10.9.9.9 expires=2001-01-01T00:00:00Z\n")
        #expect(try !served(expired, from: "127.0.0.51", over: transport))
    }

    @Test func adminChangesArePersistedAndApplied() throws {
        let gateway = try gateway(file: "")
        let keptAlive = try TestClient(port: gateway.port, source: "127.0.0.7")
        try keptAlive.send("GET /bytes/1 HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try keptAlive.readResponse().status == 200)

        let added = try gateway.admin("POST", "/admin/blocklist", body: #"{"cidr": "127.0.0.7", "reason": "abuse"}"#)
        #expect(added.status == 201)
        #expect(fileText.contains("127.0.0.7 # abuse"), "written before the answer")
        #expect(try !served(gateway, from: "127.0.0.7"))
        #expect(try served(gateway, from: "127.0.0.8"))
        try keptAlive.send("GET /bytes/1 HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try keptAlive.readResponse().status == 403, "a connection opened before the ban is refused on its next request")

        let page = try gateway.admin("GET", "/admin/blocklist?limit=10")
        let object = try JSONSerialization.jsonObject(with: Data(page.body)) as? [String: Any]
        let entries = object?["entries"] as? [[String: Any]] ?? []
        #expect(entries.count == 1 && entries.first?["cidr"] as? String == "127.0.0.7" && entries.first?["reason"] as? String == "abuse")
        #expect(object?["total"] as? Int == 1)

        #expect(try gateway.admin("DELETE", "/admin/blocklist/127.0.0.7").status == 204)
        #expect(!fileText.contains("127.0.0.7"))
        #expect(try served(gateway, from: "127.0.0.7"))
        #expect(try gateway.admin("DELETE", "/admin/blocklist/127.0.0.7").status == 404)
        #expect(try gateway.admin("POST", "/admin/blocklist", body: #"{"cidr": "10.0.0.0/8"}"#).status == 201)
        #expect(try gateway.admin("DELETE", "/admin/blocklist/10.0.0.0%2F8").status == 204, "an encoded slash")
    }

    @Test func badAdminInputChangesNothing() throws {
        let gateway = try gateway(file: "192.0.2.0/24\n")
        let before = fileText
        let cases: [(String, String)] = [
            (#"{"cidr": "10.0.0.1/8"}"#, "invalid_cidr"),
            (#"{"cidr": "not-an-ip"}"#, "invalid_cidr"),
            (#"{"reason": "x"}"#, "missing_cidr"),
            (#"{"cidr": "10.0.0.0/8", "ttl_seconds": -5}"#, "invalid_ttl"),
            (#"{"cidr": "10.0.0.0/8", "ttl_seconds": "60"}"#, "invalid_ttl"),
            (#"{"cidr": "10.0.0.0/8", "ttl_seconds": true}"#, "invalid_ttl"),
            (#"{"cidr": "10.0.0.0/8", "ttl": 60}"#, "unknown_field"),
            (#"{"cidr": "10.0.0.0/8", "reason": "a # b"}"#, "invalid_reason"),
            ("not json", "invalid_json"),
            (#"{"cidr": "0.0.0.0/0"}"#, "blocks_everyone"),
            (#"{"cidr": "::/0"}"#, "blocks_everyone"),
            (#"{"cidr": "0.0.0.0/0", "force": "yes"}"#, "invalid_force"),
        ]
        for (body, code) in cases {
            let response = try gateway.admin("POST", "/admin/blocklist", body: body)
            #expect(response.status == 400 && response.text.contains(code), "\(body) → \(response.status) \(response.text)")
        }
        // Each malformed block says what is wrong with it.
        for (cidr, says) in [("10.0.0.1/8", "did you mean 10.0.0.0/8"), ("10.0.0.0/33", "from 0 to 32"), ("2001:db8::/129", "from 0 to 128"),
                             ("10.0.0.0/x", "from 0 to 32"), ("ten.0.0.0", "is not an IP address")] {
            let response = try gateway.admin("POST", "/admin/blocklist", body: #"{"cidr": "\#(cidr)"}"#)
            #expect(response.status == 400 && response.text.contains(says), "\(cidr) → \(response.text)")
        }
        #expect(try gateway.admin("DELETE", "/admin/blocklist/nope").status == 400)
        #expect(try gateway.admin("GET", "/admin/blocklist?limit=0").status == 400)
        #expect(try gateway.admin("POST", "/admin/blocklist", body: #"{"cidr": "10.0.0.0/8"}"#, token: "wrong").status == 401)
        #expect(fileText == before)
    }

    @Test func everythingNeedsForceAndMappedIPv6IsABlock() throws {
        let gateway = try gateway(file: "")
        #expect(try gateway.admin("POST", "/admin/blocklist", body: #"{"cidr": "::ffff:127.0.0.0/120"}"#).status == 201)
        #expect(try !served(gateway, from: "127.0.0.30"), "::ffff:127.0.0.0/120 is 127.0.0.0/24")
        #expect(try gateway.admin("DELETE", "/admin/blocklist/127.0.0.0%2F24").status == 204)
        #expect(try served(gateway, from: "127.0.0.30"))
        #expect(try gateway.admin("POST", "/admin/blocklist", body: #"{"cidr": "0.0.0.0/0", "allow": true}"#).status == 201,
                "allowing everyone needs no force")
        #expect(try gateway.admin("POST", "/admin/blocklist", body: #"{"cidr": "::/0", "force": true}"#).status == 201)
        #expect(try served(gateway, from: "127.0.0.30"), "the allow of every IPv4 address still overrides")
    }

    @Test func aMissingFileIsRefusedAtReloadAndAtStart() throws {
        let gateway = try gateway(file: "127.0.0.60\n127.0.0.61\n192.0.2.0/24\n")
        try FileManager.default.removeItem(at: file)
        gateway.child.send(SIGHUP)
        #expect(gateway.child.waitForLine(containing: "reload failed", seconds: 10) != nil)
        #expect(gateway.child.output.contains("cannot read the blocklist \(file.path)"))
        #expect(try !served(gateway, from: "127.0.0.60"), "the running blocklist stays")
        let page = try gateway.admin("GET", "/admin/blocklist")
        #expect((try JSONSerialization.jsonObject(with: Data(page.body)) as? [String: Any])?["total"] as? Int == 3)

        let refused = try GatewayUnderTest(upstreams: [origin.port], extra: "[blocklist]\nfile = \"\(file.path)\"\n", waitUntilReady: false)
        #expect(refused.child.waitForExit(seconds: 10) == 1)
        #expect(refused.child.output.contains("cannot read the blocklist") && refused.child.output.contains("optional = true"))
        let optional = try GatewayUnderTest(upstreams: [origin.port], extra: "[blocklist]\nfile = \"\(file.path)\"\noptional = true\n")
        #expect(try optional.admin("POST", "/admin/blocklist", body: #"{"cidr": "127.0.0.62"}"#).status == 201)
        #expect(fileText.contains("127.0.0.62"), "an optional file is created at the first change")
    }

    @Test func entriesWithATTLExpireByThemselves() throws {
        let gateway = try gateway(file: "")
        // Expiry has one-second resolution: 3 s leaves at least 2 s to see the entry work.
        #expect(try gateway.admin("POST", "/admin/blocklist", body: #"{"cidr": "127.0.0.9", "ttl_seconds": 3}"#).status == 201)
        #expect(fileText.contains("127.0.0.9 expires="))
        #expect(try !served(gateway, from: "127.0.0.9"))
        #expect(gateway.child.waitFor(seconds: 10) { (try? self.served(gateway, from: "127.0.0.9")) == true })
        #expect(gateway.child.waitFor(seconds: 5) { !self.fileText.contains("127.0.0.9") }, "pruned from the file")
    }

    @Test func clientBehindATrustedProxyIsCheckedToo() throws {
        let gateway = try gateway(file: "198.51.100.9\n", extra: "[client_ip]\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n")
        func status(_ forwardedFor: String) throws -> Int {
            try gateway.get("/bytes/1", headers: ["X-Forwarded-For": forwardedFor]).status
        }
        #expect(try status("198.51.100.9") == 403)
        #expect(try status("1.2.3.4, 198.51.100.9, 10.1.1.1") == 403, "right-most untrusted entry")
        #expect(try status("198.51.100.9, 1.2.3.4") == 200, "entries left of it are the client's own claims")
        #expect(try status("198.51.100.9, , 10.1.1.1") == 403, "empty list elements are skipped")
        // A right-most entry that is not an address ends the walk: the earlier line is the client's.
        let client = try TestClient(port: gateway.port)
        try client.send("GET /headers HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 198.51.100.9\r\nX-Forwarded-For: not-an-address\r\n\r\n")
        let fallback = try client.readResponse()
        #expect(fallback.status == 200 && fallback.text.contains("X-Real-IP: 127.0.0.1\r\n"))
        let echoed = try gateway.get("/headers", headers: ["X-Forwarded-For": "203.0.113.5, 10.2.2.2"])
        #expect(echoed.text.contains("X-Real-IP: 203.0.113.5\r\n"))
        let direct = try GatewayUnderTest(upstreams: [origin.port], extra: "[blocklist]\nfile = \"\(file.path)\"\n")
        #expect(try direct.get("/bytes/1", headers: ["X-Forwarded-For": "198.51.100.9"]).status == 200,
                "without trusted proxies X-Forwarded-For proves nothing")
    }

    @Test func cliWrapsTheAdminAPI() throws {
        let gateway = try gateway(file: "")
        let environment = ["PORTCULLIS_ADMIN_TOKEN": GatewayUnderTest.adminToken]
        func cli(_ arguments: [String]) throws -> (Int32, String) {
            let process = try ChildProcess(executable: BuiltProducts.path("portcullis"),
                                           arguments: arguments + gateway.adminArguments, environment: environment)
            let status = process.waitForExit(seconds: 15) ?? -1
            return (status, process.output)
        }
        let (added, addOutput) = try cli(["blocklist", "add", "203.0.113.0/24", "--ttl", "600", "--reason", "scanner"])
        #expect(added == 0 && addOutput.contains("203.0.113.0/24"))
        #expect(fileText.contains("203.0.113.0/24 expires="))
        let (listed, listOutput) = try cli(["blocklist", "list"])
        #expect(listed == 0 && listOutput.contains("scanner"))
        #expect(try cli(["blocklist", "remove", "203.0.113.0/24"]).0 == 0)
        #expect(try cli(["blocklist", "remove", "203.0.113.0/24"]).0 == 1)
        #expect(try cli(["blocklist", "add", "10.0.0.1/8"]).0 == 1)
    }
}
