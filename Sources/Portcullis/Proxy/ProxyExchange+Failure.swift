/// The one failure path of an exchange. Whatever went wrong (`ExchangeFailure`), the same steps
/// follow, in this order: counted; the upstream connection closed (never pooled with half an
/// exchange in it) and its server blamed where that is fair; another attempt where that is
/// safe; else audited, and the client answered with the failure's status (the queued part of a
/// response it has not received taken back first) or, once bytes of the response reached it,
/// its connection cut: a truncated response must never look complete.
extension ProxyExchange {
    func fail(_ failure: ExchangeFailure, for client: Client) {
        if let kind = failure.upstreamError { worker.metrics.countUpstreamError(kind) }
        if case .requestBodyTooLarge = failure { worker.metrics.requestsTooLarge.add(1) }
        binding.abandonAttempt(after: failure, now: worker.loop.now)
        if step == .proxying, !response.started,
           let retry = binding.retry(after: failure, method: state.method, framing: client.request.framing, bodyForwarded: state.bodyForwarded) {
            connectUpstream(fresh: retry == .newConnection, for: client)
            return
        }

        audit(failure, for: client)
        if step == .tunnel || (response.started && client.bytesFlushed > state.responseStartsAt) {
            worker.log.warning("the exchange failed (\(failure.label)) after the response began; closing the client connection")
            client.close()
            return
        }
        if response.started {
            client.output.truncate(keeping: Int(state.responseStartsAt - client.bytesFlushed))
            relay.releaseGzip()
        }
        binding.unbind(reuse: false, now: worker.loop.now)
        releaseBufferedBody()
        client.writeAnswer(.error(failure.status), requestID: state.requestID, keepAlive: false, headOnly: state.method == .head, added: addedFields)
        countResponse(status: failure.status)
        requestCompleted(status: failure.status, for: client)
        end(keepAlive: false, for: client)
    }

    private func audit(_ failure: ExchangeFailure, for client: Client) {
        switch failure {
        case .noLiveServer, .connectFailed, .connectTimeout, .responseTimeout, .reset, .invalidResponse:
            auditRequest(.upstreamUnavailable, details: [("status", .number(Int64(failure.status))), ("reason", .text(failure.label)),
                                                         ("upstream", .text(binding.server?.address.text ?? "none"))], withHead: false, for: client)
        case .invalidRequestBody:
            auditRequest(.malformedRequest, details: [("status", .number(400)), ("reason", .text("invalid chunked request body"))],
                         withHead: false, for: client)
        case .requestBodyTooLarge(let received, let limit):
            auditRequest(.requestTooLarge, details: [("chunked_bytes_received", .number(received)), ("limit", .number(limit))],
                         withHead: false, for: client)
        case .clientTooSlow(let reason, let bodyBytes):
            auditRequest(.clientTooSlow, details: [("reason", .text(reason)), ("body_bytes", .number(bodyBytes))], withHead: false, for: client)
        }
    }
}
