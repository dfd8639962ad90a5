/// Answers the gateway gives itself (`LocalAnswer`: errors, refusals, 429, challenges,
/// redirects): written by the codec, counted, logged, then the connection goes on with the next
/// request or closes.
extension ProxyExchange {
    /// Answers the current request with `answer`; with `closing`, the connection closes after
    /// it whatever the request asked.
    func answer(_ answer: LocalAnswer, closing: Bool = false, for client: Client) {
        // The connection can go on only if no request body is pending.
        let keepAlive = !closing && client.request.head.bodyFraming == .none && client.request.head.keepAlive && !worker.draining
        client.writeAnswer(answer, requestID: state.requestID, keepAlive: keepAlive, headOnly: client.request.head.method == .head, added: addedFields)
        countResponse(status: answer.status)
        requestCompleted(status: answer.status, for: client)
        client.input.consume(client.request.head.headLength)
        client.request.skipBody()
        end(keepAlive: keepAlive, for: client)
    }

    /// 429, naming the rule; audited and counted towards auto-ban.
    func answerRateLimited(rule: Int, for client: Client) {
        let limit = snapshot.rateLimiter.rules[rule]
        auditRequest(.rateLimitExceeded, details: [
            ("rule", .text(limit.name)), ("limit", .number(limit.limit)), ("window_seconds", .number(limit.windowNanoseconds / 1_000_000_000)),
            ("mode", .text(snapshot.config.rateLimits[rule].mode.rawValue)), ("retry_after", .number(decision.rateLimitReport?.retryAfter ?? 1)),
        ], for: client)
        worker.countTowardsAutoBan(client: decision.client.address)
        answer(.error(429, detail: limit.jsonName), for: client)
    }
}
