import Foundation
@testable import Portcullis
import Testing

/// A valid configuration that the error cases below break one key at a time.
let minimalConfig = """
[server]
workers = 2

[[listeners]]
address = "127.0.0.1:18080"

[[upstreams]]
name = "app"
servers = ["127.0.0.1:18000"]

[[routes]]
upstream = "app"
"""

/// The problems reported for `text`, or an empty list when it loads.
func configProblems(_ text: String, environment: [String: String] = [:]) -> [ConfigProblem] {
    do {
        _ = try ConfigLoader.parse(text: text, file: "test.toml", environment: environment)
        return []
    } catch {
        return error.problems
    }
}

@Suite struct ConfigTests {
    @Test func shippedConfigurationIsValid() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../conf/portcullis.toml")
        let config = try ConfigLoader.load(path: url.path, environment: [:])
        #expect(config.listeners.map(\.address.text) == ["127.0.0.1:8080", "127.0.0.1:8443"])
        #expect(config.listeners.last?.scheme == .https)
        #expect(config.tls.selfSignedDev)
        #expect(config.admin.address.text == "127.0.0.1:9901")
        #expect(config.upstreams.first?.servers.first?.text == "127.0.0.1:8000")
        #expect(config.timeouts.clientHeader == 10_000_000_000)
        #expect(config.maxBody == 1 << 20)
        #expect(config.routes.map(\.maxBody) == [2048, 10 << 20, nil])
    }

    @Test func sizes() {
        #expect(TableReader.parseSize("2048") == 2048)
        #expect(TableReader.parseSize("2KB") == 2048)
        #expect(TableReader.parseSize("10mb") == 10 << 20)
        #expect(TableReader.parseSize("1GB") == 1 << 30)
        #expect(TableReader.parseSize("12B") == 12)
        #expect(TableReader.parseSize("lots") == nil)
        #expect(TableReader.parseSize("-1KB") == nil)
    }

    @Test func defaultsApply() throws {
        let config = try ConfigLoader.parse(text: minimalConfig, file: "t", environment: [:])
        #expect(config.server.workers == 2)
        #expect(config.limits == HeadLimits())
        #expect(config.timeouts.drain == 30_000_000_000)
        #expect(config.routes.first?.host == "*")
        #expect(config.upstreams.first?.keepAlive == 64)
        #expect(config.server.busyPoll == 0, "off unless asked for: it cost CPU per request in make bench")
        let on = try ConfigLoader.parse(text: minimalConfig.replacingOccurrences(of: "workers = 2", with: "workers = 2\nbusy_poll = \"25us\""),
                                        file: "t", environment: [:])
        #expect(on.server.busyPoll == 25_000)
    }

    @Test func environmentExpansion() throws {
        let text = minimalConfig.replacingOccurrences(of: "workers = 2", with: "workers = ${W:-3}")
            .replacingOccurrences(of: "\"127.0.0.1:18000\"", with: "\"${UP}\"")
        let config = try ConfigLoader.parse(text: text, file: "t", environment: ["UP": "127.0.0.1:19000"])
        #expect(config.server.workers == 3)
        #expect(config.upstreams.first?.servers.first?.text == "127.0.0.1:19000")
        let overridden = try ConfigLoader.parse(text: text, file: "t", environment: ["UP": "127.0.0.1:19000", "W": "5"])
        #expect(overridden.server.workers == 5)
    }

    @Test func expansionCannotInjectStructure() {
        let quoted = minimalConfig.replacingOccurrences(of: "\"127.0.0.1:18000\"", with: "\"${UP}\"")
        let injected = configProblems(quoted, environment: ["UP": "x\"]\n[admin]\naddress = \"0.0.0.0:1"])
        #expect(injected.contains { $0.message.contains("newline") })
        let bare = minimalConfig.replacingOccurrences(of: "workers = 2", with: "workers = ${W}")
        #expect(configProblems(bare, environment: ["W": "2\nx = 1"]).contains { $0.message.contains("newline") })
        #expect(configProblems(bare, environment: ["W": "[1]"]).contains { $0.message.contains("quote the reference") })
        #expect(configProblems(minimalConfig + "\n# ${NOT_EXPANDED_IN_COMMENTS}\n").isEmpty)
    }

    @Test func escapesQuotesInsideStrings() throws {
        let text = minimalConfig.replacingOccurrences(of: "upstream = \"app\"", with: "upstream = \"app\"\nhost = \"${H}\"")
        #expect(configProblems(text, environment: ["H": "a\"b"]).contains { $0.key == "routes[0].host" })
    }

    @Test func unsetVariableIsAnError() {
        let text = minimalConfig.replacingOccurrences(of: "workers = 2", with: "workers = ${NOPE}")
        let problems = configProblems(text)
        #expect(problems.count == 1)
        #expect(problems.first?.line == 2)
        #expect(problems.first?.message.contains("NOPE is not set") == true)
    }

    @Test func syntaxErrorNamesTheLine() {
        let problems = configProblems(minimalConfig + "\nbroken = [\n")
        #expect(problems.count == 1)
        #expect(problems.first?.line != nil)
    }

    /// A header toml++ aborts on (its parser asserts, in release builds too) is an error with
    /// its line; headers inside arrays and multi-line strings are values, not headers.
    @Test func headersTheTOMLParserCannotTakeAreErrors() {
        for header in ["[[, b]]", "[ ,x]", "[=]", "[[.a]]", "[", "[[  "] {
            let problems = configProblems(minimalConfig + "\n\(header)\n")
            #expect(problems.first?.message.contains("invalid table header") == true, "\(header)")
            #expect(problems.first?.line != nil)
        }
        #expect(TableHeaderCheck.firstInvalidHeader(in: "a = [\n[{x = 1}],\n]\nb = \"\"\"\n[, not a header\n\"\"\"\n[ok]\n") == nil)
        #expect(TableHeaderCheck.firstInvalidHeader(in: "a = \"[\" # [\n[, bad]\n") == 2)
    }

    /// Each case replaces one line of the minimal config and expects a problem at `key`.
    @Test(arguments: [
        ("workers = 2", "workers = \"many\"", "server.workers"),
        ("workers = 2", "workers = 0", "server.workers"),
        ("workers = 2", "workers = true", "server.workers"),
        ("workers = 2", "wrokers = 2", "server.wrokers"),
        ("workers = 2", "workers = 2\nlog_level = \"loud\"", "server.log_level"),
        ("workers = 2", "workers = 2\nbusy_poll = \"5ms\"", "server.busy_poll"),
        ("workers = 2", "workers = 2\nbusy_poll = \"fast\"", "server.busy_poll"),
        ("workers = 2", "workers = 2\n[timeouts]\nclient_header = \"10 seconds\"", "timeouts.client_header"),
        ("workers = 2", "workers = 2\n[timeouts]\ndrain = \"0s\"", "timeouts.drain"),
        ("workers = 2", "workers = 2\n[timeouts]\nupstream_connect = 5", "timeouts.upstream_connect"),
        ("workers = 2", "workers = 2\n[limits]\nmax_header_count = 1", "limits.max_header_count"),
        ("workers = 2", "workers = 2\n[limits]\nmax_body = \"huge\"", "limits.max_body"),
        ("workers = 2", "workers = 2\n[limits]\nmax_bodies = 1", "limits.max_bodies"),
        ("upstream = \"app\"", "upstream = \"app\"\nmax_body = \"1 TB\"", "routes[0].max_body"),
        ("workers = 2", "workers = 2\n[admin]\naddress = \"127.0.0.1:18080\"", "admin.address"),
        ("workers = 2", "workers = 2\n[admin]\naddress = \"nowhere\"", "admin.address"),
        ("address = \"127.0.0.1:18080\"", "address = \"127.0.0.1:70000\"", "listeners[0].address"),
        ("address = \"127.0.0.1:18080\"", "address = \"127.0.0.1:18080\"\nprotocol = \"gopher\"", "listeners[0].protocol"),
        ("name = \"app\"", "name = \"\"", "upstreams[0].name"),
        ("servers = [\"127.0.0.1:18000\"]", "servers = []", "upstreams[0].servers"),
        ("servers = [\"127.0.0.1:18000\"]", "servers = \"127.0.0.1:18000\"", "upstreams[0].servers"),
        ("servers = [\"127.0.0.1:18000\"]", "servers = [\"127.0.0.1:18000\"]\nmax_fails = -1", "upstreams[0].max_fails"),
        ("upstream = \"app\"", "upstream = \"missing\"", "routes[0].upstream"),
        ("upstream = \"app\"", "upstream = \"app\"\nhost = \"bad host\"", "routes[0].host"),
        ("upstream = \"app\"", "upstream = \"app\"\npath_prefix = \"api\"", "routes[0].path_prefix"),
        ("upstream = \"app\"", "upstream = \"app\"\nmethods = [\"get\"]", "routes[0].methods"),
        ("upstream = \"app\"", "upstream = \"app\"\n[[upstreams]]\nname = \"app\"\nservers = [\"127.0.0.1:1\"]", "upstreams[1].name"),
        ("upstream = \"app\"", "upstream = \"app\"\nsecurity_headers = \"strict\"", "routes[0].security_headers"),
        ("upstream = \"app\"", "upstream = \"app\"\nadd_headers = { \"Bad Name\" = \"x\" }", "routes[0].add_headers.Bad Name"),
        ("workers = 2", "workers = 2\n[security_headers.profiles.none]\n\"X-A\" = \"b\"", "security_headers.profiles.none"),
        ("workers = 2", "workers = 2\n[client_ip]\ntrusted_proxies = [\"10.0.0.1/8\"]", "client_ip.trusted_proxies[0]"),
        ("workers = 2", "workers = 2\n[redis]\nurl = \"http://redis\"", "redis.url"),
        ("workers = 2", "workers = 2\n[redis]\non_redis_failure = \"panic\"", "redis.on_redis_failure"),
        ("workers = 2", "workers = 2\n[gzip]\nlevel = 10", "gzip.level"),
        ("workers = 2", "workers = 2\n[access_log]\nformat = \"apache\"", "access_log.format"),
        ("workers = 2", "workers = 2\n[audit]\nredis_stream = \"s\"", "audit.redis_stream"),
        ("workers = 2", "workers = 2\n[gzip]\ntypes = [\"text/html; charset=utf-8\"]", "gzip.types[0]"),
        ("upstream = \"app\"", "upstream = \"app\"\n[[rate_limits]]\nmatch = \"get /x\"\nlimit = 5", "rate_limits[0].match"),
        ("upstream = \"app\"", "upstream = \"app\"\n[[rate_limits]]\nmatch = \"*\"", "rate_limits[0].limit"),
        ("upstream = \"app\"", "upstream = \"app\"\n[[rate_limits]]\nmatch = \"*\"\nlimit = 5\nkey = \"cookie\"", "rate_limits[0].key"),
        ("upstream = \"app\"", "upstream = \"app\"\n[[rate_limits]]\nmatch = \"*\"\nlimit = 5\nmode = \"exact\"", "rate_limits[0].mode"),
        ("upstream = \"app\"", "upstream = \"app\"\n[[rate_limits]]\nmatch = \"*\"\nlimit = 5\nwindow = \"1500ms\"", "rate_limits[0].window"),
        ("upstream = \"app\"", "upstream = \"app\"\n[[rate_limits]]\nmatch = \"*\"\nlimit = 5\n[[rate_limits]]\nmatch = \"*\"\nlimit = 6", "rate_limits[1].name"),
    ])
    func reportsTheKey(original: String, replacement: String, key: String) {
        let problems = configProblems(minimalConfig.replacingOccurrences(of: original, with: replacement))
        #expect(problems.contains { $0.key == key }, "expected a problem at \(key), got \(problems)")
        #expect(problems.allSatisfy { $0.line != nil || $0.key.isEmpty || $0.key == "listeners" || $0.key == "routes" })
    }

    @Test func redisURLs() {
        typealias URL = RedisSettings.ParsedURL
        #expect(RedisSettings.parse(url: "redis://127.0.0.1:6380") == URL(endpoints: [.tcp(host: "127.0.0.1", port: 6380)]))
        #expect(RedisSettings.parse(url: "redis://user:secret@cache.internal:6379/2")
                == URL(endpoints: [.tcp(host: "cache.internal", port: 6379)], username: "user", password: "secret", database: 2))
        #expect(RedisSettings.parse(url: "redis://:secret@[::1]:6379") == URL(endpoints: [.tcp(host: "::1", port: 6379)], password: "secret"))
        #expect(RedisSettings.parse(url: "redis://cache") == URL(endpoints: [.tcp(host: "cache", port: 6379)]))
        #expect(RedisSettings.parse(url: "redis://[::1]") == URL(endpoints: [.tcp(host: "::1", port: 6379)]))
        #expect(RedisSettings.parse(url: "/run/redis/redis.sock") == URL(endpoints: [.unix(path: "/run/redis/redis.sock")]))
        #expect(RedisSettings.parse(url: "unix:///run/redis.sock") == URL(endpoints: [.unix(path: "/run/redis.sock")]))
        for bad in ["redis://host:6379/x", "tcp://host", "redis://host:0", "redis://host:65536", "redis://::1:6379", "redis://:6379", "unix://run"] {
            #expect(RedisSettings.parse(url: bad) == nil, "\(bad)")
        }
    }

    @Test func redisClusterURLs() {
        typealias URL = RedisSettings.ParsedURL
        #expect(RedisSettings.parse(url: "redis+cluster://10.0.0.1:7000,10.0.0.2:7001,[fd00::3]")
                == URL(endpoints: [.tcp(host: "10.0.0.1", port: 7000), .tcp(host: "10.0.0.2", port: 7001), .tcp(host: "fd00::3", port: 6379)],
                       isCluster: true))
        #expect(RedisSettings.parse(url: "redis+cluster://app:pw@node-a:7000/0")
                == URL(endpoints: [.tcp(host: "node-a", port: 7000)], isCluster: true, username: "app", password: "pw"))
        // A cluster has database 0 only; an empty or bad address anywhere in the list is an error.
        for bad in ["redis+cluster://a:7000/1", "redis+cluster://a:7000,", "redis+cluster://,a:7000", "redis+cluster://a:7000,b:x",
                    "redis+cluster://", "redis+cluster:///run/redis.sock"] {
            #expect(RedisSettings.parse(url: bad) == nil, "\(bad)")
        }
        // A list of addresses is a cluster's only.
        #expect(RedisSettings.parse(url: "redis://a:7000,b:7001") == nil)
    }

    @Test func shippedPolicy() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../conf/portcullis.toml")
        let config = try ConfigLoader.load(path: url.path, environment: ["AUTH_RATE_LIMIT": "5", "UPLOAD_RATE_LIMIT": "7"])
        #expect(config.rateLimits.map(\.match) == ["POST /api/v1/auth/*", "POST /api/v1/posts", "POST /api/v1/posts/*/reactions",
                                                   "POST /api/v1/posts/*/share", "POST /api/v1/follows/*", "GET /api/v1/notifications",
                                                   "POST /api/v1/uploads*", "*"])
        #expect(config.rateLimits.map(\.limit) == [5, 30, 60, 20, 30, 120, 7, 100], "limits from the environment or their defaults")
        #expect(config.rateLimits.map(\.fallback) == [false, false, false, false, false, false, false, true], "the default is the fallback")
        #expect(config.rateLimiting.headers == .xRateLimit)
        #expect(config.warnings.isEmpty, "the shipped table reads as written: \(config.warnings)")
        #expect(config.rateLimits.first?.mode == .strict && config.rateLimits.dropFirst().allSatisfy { $0.mode == .batched })
        #expect(config.rateLimits.allSatisfy { $0.window == 60_000_000_000 && $0.key == .clientIP })
        #expect(config.redis.endpoint == nil && config.blocklist.file == "conf/blocklist.txt")
    }

    @Test func reportsEveryProblemAtOnce() {
        let text = minimalConfig
            .replacingOccurrences(of: "workers = 2", with: "workers = 0\nbogus = 1")
            .replacingOccurrences(of: "upstream = \"app\"", with: "upstream = \"nope\"")
        #expect(configProblems(text).count == 3)
    }

    @Test func requiresListenersAndRoutes() {
        let problems = configProblems("[server]\nworkers = 1\n")
        #expect(problems.contains { $0.key == "listeners" })
        #expect(problems.contains { $0.key == "routes" })
    }

    @Test func adminTokenRules() throws {
        let settings = try ConfigLoader.parse(text: minimalConfig, file: "t", environment: [:]).admin
        #expect(throws: AdminTokenError.self) { try AdminToken.load(settings: settings, environment: [:]) }
        #expect(throws: AdminTokenError.self) { try AdminToken.load(settings: settings, environment: ["PORTCULLIS_ADMIN_TOKEN": "short"]) }
        let secret = String(repeating: "k", count: 32)
        let token = try AdminToken.load(settings: settings, environment: ["PORTCULLIS_ADMIN_TOKEN": secret])
        #expect(token.accepts(authorization: "Bearer \(secret)"))
        #expect(!token.accepts(authorization: "Bearer \(secret)x"))
        #expect(!token.accepts(authorization: "Bearer " + secret.dropLast()))
        #expect(!token.accepts(authorization: secret))
        #expect(!token.accepts(authorization: nil))
    }
}
