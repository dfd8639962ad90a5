@testable import Portcullis
import Testing

@Suite struct RouterTests {
    private let router = Router(settings: [
        RouteSettings(host: "api.example.com", pathPrefix: "/v1", methods: ["GET"], upstream: "api-read", allowHTTP: false, maxBody: nil, headers: .standard, gzip: true),
        RouteSettings(host: "api.example.com", pathPrefix: "/v1", methods: [], upstream: "api", allowHTTP: false, maxBody: nil, headers: .standard, gzip: true),
        RouteSettings(host: "*.example.com", pathPrefix: "/static/", methods: [], upstream: "static", allowHTTP: false, maxBody: nil, headers: .standard, gzip: true),
        RouteSettings(host: "*", pathPrefix: "/", methods: [], upstream: "default", allowHTTP: true, maxBody: nil, headers: .standard, gzip: true),
    ], upstreamNames: ["api-read", "api", "static", "default"], defaultMaxBody: 1024,
                                headerSettings: .defaults)

    private func route(_ host: String, _ path: String, _ method: String = "GET") -> Int? {
        let hostBytes = Array(host.utf8)
        let pathBytes = Array(path.utf8)
        let methodBytes = Array(method.utf8)
        return hostBytes.withUnsafeBufferPointer { hostBuffer in
            pathBytes.withUnsafeBufferPointer { pathBuffer in
                methodBytes.withUnsafeBufferPointer { router.match(host: hostBuffer, path: pathBuffer, method: $0)?.1.upstreamIndex }
            }
        }
    }

    @Test func firstMatchWins() {
        #expect(route("api.example.com", "/v1/users") == 0)
        #expect(route("api.example.com", "/v1/users", "POST") == 1)
    }

    @Test func hostMatchingIgnoresCaseAndPort() {
        #expect(route("API.Example.COM:8443", "/v1") == 0)
        #expect(route("api.example.com.evil.net", "/v1") == 3)
        #expect(route("api.example.com.", "/v1") == 0, "a trailing dot is the same name")
        #expect(route("api.example.com.:443", "/v1") == 0)
        #expect(route("cdn.example.com.", "/static/a.css") == 2)
    }

    @Test func wildcardNeedsASubdomain() {
        #expect(route("cdn.example.com", "/static/a.css") == 2)
        #expect(route("a.b.example.com", "/static/a.css") == 2)
        #expect(route("example.com", "/static/a.css") == 3)
        #expect(route("badexample.com", "/static/a.css") == 3)
    }

    @Test func prefixesMatchWholeSegments() {
        #expect(route("api.example.com", "/v1") == 0)
        #expect(route("api.example.com", "/v10", "POST") == 3)
        #expect(route("cdn.example.com", "/static") == 3)
    }

    @Test func stripsPortsButNotIPv6Brackets() {
        let bytes = Array("[::1]:8080".utf8)
        let stripped = bytes.withUnsafeBufferPointer { Array(Router.stripPort($0)) }
        #expect(String(decoding: stripped, as: UTF8.self) == "[::1]")
    }
}
