import Foundation
import Testing

/// Response header profiles through the real binary: the default profile (HSTS on HTTPS only),
/// upstream fields stripped, per-route profiles, additions, removals and upstream-wins.
@Suite struct SecurityHeaderTests {
    let origin: Origin
    let gateway: GatewayUnderTest

    init() throws {
        origin = try Origin()
        let certificates = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-headers-\(UUID().uuidString)").path
        gateway = try GatewayUnderTest(upstreams: [origin.port], extra: """
            [tls]
            self_signed_dev = true
            dev_certificate_dir = "\(certificates)"

            [security_headers.profiles.docs]
            "Content-Security-Policy" = "default-src 'self'; img-src *"
            "X-Frame-Options" = "SAMEORIGIN"

            [[routes]]
            path_prefix = "/docs"
            upstream = "app"
            allow_http = true
            security_headers = "docs"

            [[routes]]
            path_prefix = "/custom"
            upstream = "app"
            allow_http = true
            add_headers = { "X-Frame-Options" = "SAMEORIGIN", "Cross-Origin-Opener-Policy" = "same-origin" }
            remove_headers = ["Permissions-Policy"]

            [[routes]]
            path_prefix = "/set-headers/theirs"
            upstream = "app"
            allow_http = true
            upstream_headers_win = true

            [[routes]]
            path_prefix = "/bare"
            upstream = "app"
            allow_http = true
            security_headers = "none"

            [[routes]]
            path_prefix = "/"
            upstream = "app"
            allow_http = true
            """, https: true, routesFirst: false)
    }

    @Test func defaultProfileOnHTTPSWithHSTS() throws {
        let client = try TLSTestClient(port: gateway.tlsPort)
        #expect(try client.get("/bytes/10").status == 200)
        let head = client.lastHead
        for line in ["Strict-Transport-Security: max-age=31536000; includeSubDomains", "Content-Security-Policy: default-src 'self'",
                     "X-Frame-Options: DENY", "X-Content-Type-Options: nosniff", "Referrer-Policy: strict-origin-when-cross-origin",
                     "Permissions-Policy: camera=(), microphone=(), geolocation=()", "X-XSS-Protection: 0"] {
            #expect(head.contains("\r\n" + line + "\r\n") || head.hasSuffix("\r\n" + line), "missing \(line)")
        }
        #expect(!head.contains("Server:") && !head.contains("X-Powered-By:"), "upstream's Server and X-Powered-By are removed")
    }

    @Test func plainHTTPGetsNoHSTS() throws {
        let response = try gateway.get("/bytes/10")
        #expect(response.status == 200)
        #expect(response.header("Strict-Transport-Security") == nil)
        #expect(response.header("X-Frame-Options") == "DENY")
        #expect(response.header("Server") == nil && response.header("X-Powered-By") == nil)
        let refused = try gateway.get("/a/../x")
        #expect(refused.status == 400 && refused.header("X-Content-Type-Options") == "nosniff",
                "answers of the gateway itself carry the default profile")
    }

    @Test func routeProfilesAdditionsAndRemovals() throws {
        let docs = try gateway.get("/docs/page")
        #expect(docs.header("Content-Security-Policy") == "default-src 'self'; img-src *")
        #expect(docs.header("X-Frame-Options") == "SAMEORIGIN" && docs.header("X-Content-Type-Options") == nil)
        let custom = try gateway.get("/custom/page")
        #expect(custom.header("X-Frame-Options") == "SAMEORIGIN" && custom.header("Cross-Origin-Opener-Policy") == "same-origin")
        #expect(custom.header("Permissions-Policy") == nil && custom.header("X-Content-Type-Options") == "nosniff")
        #expect(custom.headers.filter { $0.0 == "X-Frame-Options" }.count == 1)
        let bare = try gateway.get("/bare/x")
        #expect(bare.header("X-Frame-Options") == nil && bare.header("Content-Security-Policy") == nil)
    }

    @Test func upstreamValueWinsOnlyWhereConfigured() throws {
        let query = "set-headers?X-Frame-Options=SAMEORIGIN&Content-Security-Policy=default-src%20*"
        let ours = try gateway.get("/" + query)
        #expect(ours.headers.filter { $0.0.lowercased() == "x-frame-options" }.map(\.1) == ["DENY"], "the gateway's value replaces the upstream's")
        #expect(ours.header("Content-Security-Policy") == "default-src 'self'")
        let theirs = try gateway.get("/set-headers/theirs?" + query.dropFirst("set-headers?".count))
        #expect(theirs.headers.filter { $0.0.lowercased() == "x-frame-options" }.map(\.1) == ["SAMEORIGIN"])
        #expect(theirs.header("Content-Security-Policy") == "default-src *")
        #expect(theirs.header("X-Content-Type-Options") == "nosniff", "fields the upstream did not send are still added")
    }
}
