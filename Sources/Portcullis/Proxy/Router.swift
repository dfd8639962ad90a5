import Glibc

/// Matches a request's host, path and method against the configured routes; the first match
/// wins. Compiled once per snapshot; matching compares bytes and allocates nothing.
public struct Router: Sendable {
    /// One compiled `[[routes]]` entry. A class, not a struct: the request path hands the
    /// matched route on, and a reference costs one retain where a copy costs one per field.
    final class Route: Sendable {
        enum HostPattern: Sendable {
            case any
            case exact([UInt8])
            /// `*.example.com`, stored as `.example.com`.
            case subdomain([UInt8])
        }

        let hostPattern: HostPattern
        let pathPrefix: [UInt8]
        let methods: [[UInt8]]
        /// Index into the snapshot's upstreams.
        let upstreamIndex: Int
        /// Proxied on plain HTTP too (else redirected when HTTPS exists).
        let allowsPlainHTTP: Bool
        /// Largest request body, and how much of it is read whole before the upstream exchange.
        let body: BodyLimits
        /// Response fields added and dropped.
        let headers: ResponseHeaderPolicy
        /// Responses by status class (index 1–5), shared by the workers.
        let responses: [Counter]
        /// Responses may be gzipped.
        let gzip: Bool

        /// Compiles one `[[routes]]` entry (see `Router.init` for the arguments).
        init(_ route: RouteSettings, upstreamNames: [String], defaultMaxBody: Int64, headerSettings: SecurityHeaderSettings,
             caseInsensitivePaths: Bool, responseCounters: LabeledCounters) {
            if route.host == "*" {
                hostPattern = .any
            } else if route.host.hasPrefix("*.") {
                hostPattern = .subdomain(Array(route.host.dropFirst(1).utf8))
            } else {
                hostPattern = .exact(Array(route.host.utf8))
            }
            pathPrefix = Array((caseInsensitivePaths ? route.pathPrefix.lowercased() : route.pathPrefix).utf8)
            methods = route.methods.map { Array($0.utf8) }
            upstreamIndex = upstreamNames.firstIndex(of: route.upstream) ?? 0
            allowsPlainHTTP = route.allowHTTP
            body = BodyLimits(settings: route, defaultMaxBody: defaultMaxBody)
            headers = ResponseHeaderPolicy(settings: headerSettings, route: route.headers)
            responses = responseCounters.counters(for: route.metricLabel)
            gzip = route.gzip
        }
    }

    let routes: [Route]

    /// `caseInsensitivePaths`: prefixes are stored in lower case, to compare with the lower-case
    /// matching form of request paths (`PathNormalizer`).
    init(settings: [RouteSettings], upstreamNames: [String], defaultMaxBody: Int64, headerSettings: SecurityHeaderSettings,
         caseInsensitivePaths: Bool = true, responseCounters: LabeledCounters = LabeledCounters(width: 6)) {
        routes = settings.map { route in
            Route(route, upstreamNames: upstreamNames, defaultMaxBody: defaultMaxBody, headerSettings: headerSettings,
                  caseInsensitivePaths: caseInsensitivePaths, responseCounters: responseCounters)
        }
    }

    /// The first route matching a request and its index, or nil.
    /// `host` may carry a port, which is ignored, and a trailing dot (`example.com.` is the
    /// fully qualified `example.com`); comparison is case-insensitive.
    func match(host: UnsafeBufferPointer<UInt8>, path: UnsafeBufferPointer<UInt8>, method: UnsafeBufferPointer<UInt8>) -> (Int, Route)? {
        var hostName = Self.stripPort(host)
        if hostName.last == ASCII.dot { hostName = UnsafeBufferPointer(rebasing: hostName.dropLast()) }
        for (index, route) in routes.enumerated() where Self.matches(route, hostName, path, method) {
            return (index, route)
        }
        return nil
    }

    private static func matches(_ route: Route, _ host: UnsafeBufferPointer<UInt8>, _ path: UnsafeBufferPointer<UInt8>,
                                _ method: UnsafeBufferPointer<UInt8>) -> Bool {
        switch route.hostPattern {
        case .any:
            break
        case .exact(let name):
            guard let start = host.baseAddress, Bytes.equalsLowercase(start, host.count, name) else { return false }
        case .subdomain(let suffix):
            guard host.count > suffix.count, let start = host.baseAddress,
                  Bytes.equalsLowercase(start + host.count - suffix.count, suffix.count, suffix) else { return false }
        }
        guard pathHasPrefix(path, route.pathPrefix) else { return false }
        if route.methods.isEmpty { return true }
        return route.methods.contains { candidate in candidate.elementsEqual(method) }
    }

    /// Segment-aware: `/api` matches `/api` and `/api/x`, not `/apix`; `/api/` matches `/api/x`.
    private static func pathHasPrefix(_ path: UnsafeBufferPointer<UInt8>, _ prefix: [UInt8]) -> Bool {
        guard path.count >= prefix.count else { return false }
        for index in 0..<prefix.count where path[index] != prefix[index] { return false }
        return path.count == prefix.count || prefix.last == ASCII.slash || path[prefix.count] == ASCII.slash
    }

    /// `example.com:8080` → `example.com`; `[::1]:8080` → `[::1]`.
    static func stripPort(_ host: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        var index = host.count - 1
        while index >= 0 {
            let byte = host[index]
            if byte == ASCII.colon { return UnsafeBufferPointer(rebasing: host[0..<index]) }
            if byte < ASCII.zero || byte > ASCII.nine { break }
            index -= 1
        }
        return host
    }
}
