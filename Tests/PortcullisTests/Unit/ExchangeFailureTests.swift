@testable import Portcullis
import Testing

/// The failure table every exchange failure goes through: its status, whom it blames, and
/// when another attempt may follow (never once a body byte went upstream).
@Suite struct ExchangeFailureTests {
    @Test(arguments: [
        (ExchangeFailure.noLiveServer, 502, false), (.connectFailed, 502, true), (.connectTimeout, 504, true),
        (.responseTimeout, 504, true), (.reset(reusedIdle: false), 502, true), (.reset(reusedIdle: true), 502, false),
        (.invalidResponse, 502, true), (.invalidRequestBody, 400, false), (.requestBodyTooLarge(received: 9, limit: 8), 413, false),
        (.clientTooSlow(reason: "body_idle", bodyBytes: 0), 408, false),
    ])
    func statusAndBlame(failure: ExchangeFailure, status: Int, blamesServer: Bool) {
        #expect(failure.status == status)
        #expect(failure.blamesServer == blamesServer)
        #expect((failure.upstreamError == nil) == (status < 500), "only upstream failures count as upstream errors")
    }

    @Test func connectFailuresMoveToTheNextServerWhileOneIsLeft() {
        for failure in [ExchangeFailure.connectFailed, .connectTimeout] {
            #expect(failure.retry(attempts: 1, servers: 3, method: .post, framing: .length(10), bodyForwarded: false) == .nextServer)
            #expect(failure.retry(attempts: 3, servers: 3, method: .get, framing: .none, bodyForwarded: false) == nil)
            #expect(failure.retry(attempts: 1, servers: 3, method: .post, framing: .length(10), bodyForwarded: true) == nil)
        }
    }

    @Test func aStaleIdleConnectionIsRetriedOnceForIdempotentBodylessRequests() {
        let stale = ExchangeFailure.reset(reusedIdle: true)
        #expect(stale.retry(attempts: 1, servers: 1, method: .get, framing: .none, bodyForwarded: false) == .newConnection)
        #expect(stale.retry(attempts: 2, servers: 1, method: .get, framing: .none, bodyForwarded: false) == nil)
        #expect(stale.retry(attempts: 1, servers: 1, method: .post, framing: .none, bodyForwarded: false) == nil)
        #expect(stale.retry(attempts: 1, servers: 1, method: .put, framing: .length(3), bodyForwarded: false) == nil)
    }

    @Test func nothingElseIsRetried() {
        for failure in [ExchangeFailure.noLiveServer, .responseTimeout, .reset(reusedIdle: false), .invalidResponse, .invalidRequestBody,
                        .requestBodyTooLarge(received: 9, limit: 8), .clientTooSlow(reason: "rate", bodyBytes: 1)] {
            #expect(failure.retry(attempts: 1, servers: 5, method: .get, framing: .none, bodyForwarded: false) == nil, "\(failure)")
        }
    }
}
