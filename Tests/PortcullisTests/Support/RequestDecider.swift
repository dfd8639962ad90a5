import Foundation
@testable import Portcullis

/// `RequestPath.decide` without a socket: a snapshot of a configuration, the state the phases
/// consult, and request heads given as text.
struct RequestDecider {
    let snapshot: GatewaySnapshot
    var blocklist = IPBlocklist.empty
    var secure = false
    var redis = RateLimiter.RedisAvailability.none
    var now: UInt64 = 1_000_000_000
    var scratch: [UInt8] = []
    var decision: RequestDecision
    let matchingPath = ByteBuffer(capacity: 1024)

    /// `minimalConfig` plus `extra`, with `routes` before its catch-all route (the first matching
    /// route wins).
    init(_ extra: String = "", routes: String = "") throws {
        let catchAll = "[[routes]]\nupstream = \"app\""
        precondition(minimalConfig.contains(catchAll))
        let text = minimalConfig.replacingOccurrences(of: catchAll, with: routes + "\n" + catchAll) + "\n" + extra
        self.init(config: try ConfigLoader.parse(text: text, file: "test.toml", environment: [:]))
    }

    /// The shipped `conf/portcullis.toml`, with `environment` for its `${…}` values.
    static func shipped(environment: [String: String] = [:]) throws -> RequestDecider {
        let path = BuiltProducts.packageRoot.appendingPathComponent("conf/portcullis.toml").path
        return RequestDecider(config: try ConfigLoader.load(path: path, environment: environment))
    }

    init(config: GatewayConfig) {
        snapshot = GatewaySnapshot(config: config, generation: 1, certificates: nil,
                                   shared: GatewayShared(maxRateLimitKeys: config.rateLimiting.maxKeys))
        decision = RequestDecision(headers: snapshot.defaultHeaders)
    }

    /// Decides `request` (a whole head, "\r\n" line ends) from `peer`.
    mutating func decide(_ request: String, peer: String = "192.0.2.10") -> RequestPath.Verdict {
        let bytes = Array(request.utf8)
        var parser = RequestParser(limits: snapshot.config.limits)
        var head = RequestHead()
        let parsed = bytes.withUnsafeBufferPointer { parser.parse($0, into: &head) }
        precondition(parsed == .complete, "the test's request does not parse: \(request)")
        let context = DecisionContext(snapshot: snapshot, secure: secure, peer: IPAddress(peer)!, peerText: Array(peer.utf8),
                                      blocklist: blocklist, now: now, epochSeconds: 1_000, redis: redis, matchingPath: matchingPath)
        return bytes.withUnsafeBufferPointer {
            RequestPath.decide(&head, source: $0.baseAddress!, context: context, scratch: &scratch, into: &decision)
        }
    }

    var clientText: String { String(decoding: decision.client.text, as: UTF8.self) }
    var rateLimitFields: String { String(decoding: decision.rateLimitFields, as: UTF8.self) }
}
