import Foundation
@testable import Portcullis
import Testing

/// The rate-limit table as operators read it: fallback rules, the fields of the rule that
/// decided in both styles, and the warnings `portcullis check` gives about rules that cannot
/// do what they seem to.
@Suite struct RateLimitRuleTests {
    private static func request(_ method: String, _ path: String) -> String {
        "\(method) \(path) HTTP/1.1\r\nHost: app.example\r\nContent-Length: 0\r\n\r\n"
    }

    /// Sends `count` requests and returns how many were forwarded.
    private static func forwarded(_ decider: inout RequestDecider, _ request: String, count: Int, peer: String = "192.0.2.10") -> Int {
        (0..<count).reduce(0) { total, _ in
            if case .forward = decider.decide(request, peer: peer) { return total + 1 }
            return total
        }
    }

    private static func field(_ name: String, in fields: String) -> String? {
        fields.components(separatedBy: "\r\n").first { $0.hasPrefix(name + ": ") }.map { String($0.dropFirst(name.count + 2)) }
    }

    @Test func theShippedTableBehavesAsWritten() throws {
        var decider = try RequestDecider.shipped()
        decider.secure = true
        let notifications = Self.request("GET", "/api/v1/notifications")
        #expect(Self.forwarded(&decider, notifications, count: 120) == 120, "120 a minute, not the default's 100")
        #expect(Self.field("X-RateLimit-Limit", in: decider.rateLimitFields) == "120")
        #expect(Self.field("X-RateLimit-Remaining", in: decider.rateLimitFields) == "0")
        #expect(decider.decide(notifications) == .rateLimited(rule: 5), "the 121st")
        let other = Self.request("GET", "/api/v1/feed")
        #expect(Self.forwarded(&decider, other, count: 1) == 1)
        #expect(Self.field("X-RateLimit-Limit", in: decider.rateLimitFields) == "100", "the default applies to the rest")
        #expect(Self.field("X-RateLimit-Remaining", in: decider.rateLimitFields) == "99", "notifications were not counted by the default")
        #expect(Self.forwarded(&decider, other, count: 100) == 99, "the 101st request of the default is refused")
        let upload = Self.request("POST", "/api/v1/uploads/avatar")
        #expect(Self.forwarded(&decider, upload, count: 21) == 20, "uploads: 20 a minute, counted on their own")
        #expect(Self.field("X-RateLimit-Limit", in: decider.rateLimitFields) == "20")
        #expect(Self.forwarded(&decider, Self.request("POST", "/api/v1/uploads"), count: 1) == 0, "the bare path is the same endpoint")
    }

    @Test func theUploadLimitComesFromTheEnvironment() throws {
        var decider = try RequestDecider.shipped(environment: ["UPLOAD_RATE_LIMIT": "3"])
        decider.secure = true
        #expect(Self.forwarded(&decider, Self.request("POST", "/api/v1/uploads"), count: 5) == 3)
    }

    @Test func otherRulesAllCountSoACeilingCanBeLayered() throws {
        var decider = try RequestDecider("""
            [[rate_limits]]
            name = "ceiling"
            match = "*"
            limit = 5
            [[rate_limits]]
            name = "search"
            match = "GET /search"
            limit = 3
            [[rate_limits]]
            name = "default"
            match = "*"
            limit = 2
            fallback = true
            """)
        #expect(Self.forwarded(&decider, Self.request("GET", "/search"), count: 4) == 3, "the endpoint's own limit")
        #expect(Self.forwarded(&decider, Self.request("GET", "/other"), count: 3) == 1, "the ceiling counted the searches too")
        #expect(Self.forwarded(&decider, Self.request("GET", "/other"), count: 6, peer: "192.0.2.99") == 5,
                "the fallback (2) does not apply where the ceiling matches")
        #expect(Self.field("X-RateLimit-Limit", in: decider.rateLimitFields) == "5")
    }

    @Test func aFallbackAppliesOnlyWhereNoOtherRuleMatches() throws {
        var decider = try RequestDecider("""
            [[rate_limits]]
            name = "default"
            match = "*"
            limit = 2
            fallback = true
            [[rate_limits]]
            name = "api"
            match = "/api/*"
            limit = 4
            """)
        #expect(Self.forwarded(&decider, Self.request("GET", "/api/x"), count: 5) == 4, "the specific rule, wherever the fallback stands")
        #expect(Self.field("X-RateLimit-Limit", in: decider.rateLimitFields) == "4")
        #expect(Self.forwarded(&decider, Self.request("GET", "/home"), count: 3) == 2)
        #expect(decider.snapshot.config.warnings.map(\.key) == ["rate_limits[0]"], "a fallback that is not last is warned about")
    }

    @Test func ietfFieldsNameThePolicyAndCountDown() throws {
        let rule = """
            [[rate_limits]]
            name = "say \\"hi\\""
            match = "/x"
            limit = 2
            window = "10s"
            """
        var ietf = try RequestDecider("[rate_limiting]\nheaders = \"ietf\"\n" + rule)
        _ = ietf.decide(Self.request("GET", "/x"))
        let fields = ietf.rateLimitFields
        #expect(Self.field("RateLimit-Policy", in: fields) == #""say \"hi\"";q=2;w=10"#)
        let live = Self.field("RateLimit", in: fields) ?? ""
        #expect(live.hasPrefix(#""say \"hi\"";r=1;t="#))
        let resetAfter = Int(live.split(separator: "=").last ?? "") ?? -1
        #expect(resetAfter >= 1 && resetAfter <= 10, "seconds to the window's end, not an epoch")
        #expect(Self.field("X-RateLimit-Limit", in: fields) == nil && fields.components(separatedBy: "\r\n").count == 3)
        _ = ietf.decide(Self.request("GET", "/x"))
        #expect(ietf.decide(Self.request("GET", "/x")) == .rateLimited(rule: 0))
        #expect(Self.field("RateLimit", in: ietf.rateLimitFields)?.hasPrefix(#""say \"hi\"";r=0;t="#) == true)
        #expect(Self.field("Retry-After", in: ietf.rateLimitFields) != nil)

        var both = try RequestDecider("[rate_limiting]\nheaders = \"both\"\n" + rule)
        _ = both.decide(Self.request("GET", "/x"))
        let names = both.rateLimitFields.components(separatedBy: "\r\n").compactMap { $0.split(separator: ":").first.map(String.init) }
        #expect(names == ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Policy", "RateLimit"])
    }

    @Test func badRateLimitSettingsAreErrors() {
        let problems = configProblems(minimalConfig + """

            [rate_limiting]
            headers = "draft"
            [[rate_limits]]
            name = "bad\\u0007name"
            match = "/x"
            limit = 1
            fallback = "yes"
            """)
        #expect(problems.map(\.key).sorted() == ["rate_limiting.headers", "rate_limits[0].fallback", "rate_limits[0].name"], "\(problems)")
    }

    @Test(arguments: [
        // (rules as match/limit/fallback, the warned rule indices)
        ([("*", 100, false), ("GET /api/v1/notifications", 120, false)], [1]),   // the old shipped table
        ([("GET /api/v1/notifications", 120, false), ("*", 100, true)], []),
        ([("*", 100, false), ("GET /n", 50, false)], []),                        // a stricter endpoint rule still decides
        ([("/a/*", 10, false), ("/a/*", 10, false)], [1]),                        // duplicates: the later one
        ([("/a/*", 10, false), ("*", 5, true)], []),
        ([("*", 10, false), ("*", 5, true)], [1]),                                // a fallback that never applies
        ([("/x", 5, true), ("/y", 5, false)], [0]),                               // a fallback that is not last
        ([("POST /a/*", 10, false), ("/a/b", 20, false)], []),                    // a method narrows the cover
        ([("/a/*", 10, false), ("POST /a/b/c", 20, false)], [1]),
    ])
    func reviewWarnsAboutRulesThatCannotDoWhatTheySeem(rules: [(String, Int, Bool)], warned: [Int]) {
        let settings = rules.enumerated().map { index, rule in
            RateLimitRuleSettings(name: "r\(index)", match: rule.0, limit: rule.1, window: 60_000_000_000, key: .clientIP, mode: .batched,
                                  fallback: rule.2)
        }
        let warnings = RateLimitRuleReview.warnings(settings, caseInsensitivePaths: true)
        #expect(warnings.map(\.key) == warned.map { "rate_limits[\($0)]" }, "\(warnings.map(\.message))")
    }

    @Test func aRuleWithAnotherKeyOrWindowIsNotShadowed() {
        let base = RateLimitRuleSettings(name: "all", match: "*", limit: 10, window: 60_000_000_000, key: .clientIP, mode: .batched, fallback: false)
        var byRoute = base
        byRoute.name = "route"
        byRoute.key = .route
        byRoute.limit = 20
        var hourly = base
        hourly.name = "hourly"
        hourly.window = 3_600_000_000_000
        hourly.limit = 500
        #expect(RateLimitRuleReview.warnings([base, byRoute, hourly], caseInsensitivePaths: true).isEmpty)
    }

    @Test(arguments: [
        ("*", "/a/b", true), ("/*", "/a/*", true), ("/a/*", "/a/b/*", true), ("/a/*", "/a", true), ("/a/*", "/b", false),
        ("/a/*/c", "/a/*/c", true), ("/a/*/c", "/a/*", false), ("/a/b", "/a/*", false), ("/up*", "/up/x", true),
        ("GET /a", "/a", false), ("/a", "GET /a", true), ("/a/*/*", "/a/x/*", true),
    ])
    func coverIsNeverClaimedWrongly(outer: String, inner: String, covers: Bool) {
        #expect(PathPattern(outer)!.covers(PathPattern(inner)!) == covers)
    }
}
