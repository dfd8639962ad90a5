/// Answers the gateway writes itself (errors, refusals, 429): written, counted, logged, then the
/// connection goes on with the next request or closes.
extension ClientConnection {
    /// After a local answer the connection can go on only if no request body is pending.
    var canKeepAliveAfterLocalAnswer: Bool { request.head.bodyFraming == .none && request.head.keepAlive && !worker.draining }

    /// Answers the current request with a gateway error page.
    func answer(status: Int) {
        let canContinue = canKeepAliveAfterLocalAnswer
        GatewayResponse.write(status: status, requestID: exchange.requestID, keepAlive: canContinue,
                              headOnly: request.head.method == .head, added: addedFields, into: transport.output)
        answeredLocally(status: status, keepAlive: canContinue)
    }

    /// 429, naming the rule; audited and counted towards auto-ban.
    func answerRateLimited(rule: Int) {
        let limit = snapshot.rateLimiter.rules[rule]
        auditRequest(.rateLimitExceeded, details: [
            ("rule", .text(limit.name)), ("limit", .number(limit.limit)), ("window_seconds", .number(limit.windowNanoseconds / 1_000_000_000)),
            ("mode", .text(snapshot.config.rateLimits[rule].mode.rawValue)), ("retry_after", .number(decision.rateLimitReport?.retryAfter ?? 1)),
        ])
        worker.countTowardsAutoBan(client: decision.client.address)
        let canContinue = canKeepAliveAfterLocalAnswer
        GatewayResponse.write(status: 429, requestID: exchange.requestID, keepAlive: canContinue, headOnly: request.head.method == .head,
                              added: addedFields, detail: snapshot.rateLimiter.rules[rule].jsonName, into: transport.output)
        answeredLocally(status: 429, keepAlive: canContinue)
    }

    /// After a response the gateway wrote itself: consume the head, then go on or close.
    func answeredLocally(status: Int, keepAlive: Bool) {
        countResponse(status: status)
        requestCompleted(status: status)
        transport.input.consume(request.head.headLength)
        request.skipBody()
        phase = keepAlive ? .readingHead : .closing
        phaseStartedAt = worker.loop.now
    }
}
