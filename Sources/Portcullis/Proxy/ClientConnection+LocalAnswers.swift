/// Answers the gateway gives itself (`LocalAnswer`: errors, refusals, 429, challenges,
/// redirects): written by the codec, counted, logged, then the connection goes on with the next
/// request or closes.
extension ClientConnection {
    /// After a local answer the connection can go on only if no request body is pending.
    var canKeepAliveAfterLocalAnswer: Bool { request.head.bodyFraming == .none && request.head.keepAlive && !worker.draining }

    /// Answers the current request with `answer`; with `closing`, the connection closes after
    /// it whatever the request asked.
    func answer(_ answer: LocalAnswer, closing: Bool = false) {
        let keepAlive = !closing && canKeepAliveAfterLocalAnswer
        GatewayResponse.write(answer, requestID: exchange.requestID, keepAlive: keepAlive, headOnly: request.head.method == .head,
                              added: addedFields, into: transport.output)
        countResponse(status: answer.status)
        requestCompleted(status: answer.status)
        transport.input.consume(request.head.headLength)
        request.skipBody()
        phase = keepAlive ? .readingHead : .closing
        phaseStartedAt = worker.loop.now
    }

    /// 429, naming the rule; audited and counted towards auto-ban.
    func answerRateLimited(rule: Int) {
        let limit = snapshot.rateLimiter.rules[rule]
        auditRequest(.rateLimitExceeded, details: [
            ("rule", .text(limit.name)), ("limit", .number(limit.limit)), ("window_seconds", .number(limit.windowNanoseconds / 1_000_000_000)),
            ("mode", .text(snapshot.config.rateLimits[rule].mode.rawValue)), ("retry_after", .number(decision.rateLimitReport?.retryAfter ?? 1)),
        ])
        worker.countTowardsAutoBan(client: decision.client.address)
        answer(.error(429, detail: limit.jsonName))
    }
}
