/// Rate limits decided in Redis: the request waits, without blocking the worker, for the atomic
/// check-and-increment of every strict rule it matches and for a lease of every batched rule
/// this instance holds no token of; then it is forwarded or refused. A Redis failure (no
/// connection, no reply within the command timeout) is decided at once by `on_redis_failure`.
/// Refills of leases that run low are sent without anyone waiting.
extension ProxyExchange {
    func awaitStrictLimits(upstreamIndex: Int, body: BodyLimits, for client: Client) {
        guard let redis = worker.redisLimits, !decision.strictChecks.isEmpty else {
            beginForwarding(upstreamIndex: upstreamIndex, body: body, for: client)
            return
        }
        step = .awaitingPolicy
        strictWait.begin(upstreamIndex: upstreamIndex, body: body, answers: decision.strictChecks.count { $0.kind != .refill })
        let request = serial
        let limiter = snapshot.rateLimiter
        // Every answer, and every failure, comes later from the loop: none arrives inside this
        // loop, so the last one is the one that finishes.
        for check in decision.strictChecks {
            switch check.kind {
            case .strict:
                let rule = limiter.rules[check.rule]
                redis.check(check, limit: rule.limit, windowLength: rule.windowNanoseconds, done: { [self] admitted, current, previous in
                    if admitted { limiter.rememberAdmitted(check) }
                    strictAnswered(request, limiter.strictReport(check, admitted: admitted, current: current, previous: previous), for: client)
                }, failed: { [self] in
                    strictFailed(request, check, for: client)
                })
            case .lease:
                redis.lease(check, limiter: limiter, answered: { [self] report in strictAnswered(request, report, for: client) },
                            failed: { [self] in strictFailed(request, check, for: client) })
            case .refill:
                refillLease(check, redis: redis, limiter: limiter)
            }
        }
    }

    /// Sends the lease refills of a request that did not wait on Redis.
    func sendLeaseRefills() {
        guard let redis = worker.redisLimits else { return }
        for check in decision.strictChecks { refillLease(check, redis: redis, limiter: snapshot.rateLimiter) }
    }

    private func refillLease(_ check: RateLimiter.StrictCheck, redis: RedisRateLimits, limiter: RateLimiter) {
        redis.lease(check, limiter: limiter, answered: { _ in }, failed: { limiter.refillFailed(check) })
    }

    private func strictAnswered(_ request: Int, _ report: RateLimiter.Report?, for client: Client) {
        guard step == .awaitingPolicy, serial == request, client.isOpen else { return }
        var refusedBy: Int?
        if let report {
            decision.rateLimitReport = RateLimiter.Report.tighter(decision.rateLimitReport, report)
            if report.retryAfter != nil { refusedBy = report.rule }
        }
        if strictWait.answered(refusedBy: refusedBy) { finishStrictLimits(for: client) }
    }

    private func strictFailed(_ request: Int, _ check: RateLimiter.StrictCheck, for client: Client) {
        switch snapshot.config.redis.onFailure {
        case .local:
            strictAnswered(request, snapshot.rateLimiter.strictFallback(check), for: client)
        case .allow:
            strictAnswered(request, nil, for: client)
        case .deny:
            if step == .awaitingPolicy && serial == request { strictWait.redisUnavailable() }
            strictAnswered(request, nil, for: client)
        }
    }

    /// Every answer is in: forward or refuse, then drive the connection on.
    private func finishStrictLimits(for client: Client) {
        snapshot.rateLimiter.render(decision.rateLimitReport, into: &decision.rateLimitFields)
        switch strictWait.outcome {
        case .admitted:
            beginForwarding(upstreamIndex: strictWait.upstreamIndex, body: strictWait.body, for: client)
        case .rejected(let rule):
            answerRateLimited(rule: rule, for: client)
        case .unavailable:
            answer(.error(503), for: client)
        }
        client.drive()
    }
}
