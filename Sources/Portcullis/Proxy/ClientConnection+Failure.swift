/// The one failure path of an exchange. Whatever went wrong (`ExchangeFailure`), the same steps
/// follow, in this order: counted; the upstream connection closed (never pooled with half an
/// exchange in it) and its server blamed where that is fair; another attempt where that is
/// safe; else audited, and the client answered with the failure's status (the queued part of a
/// response it has not received taken back first) or, once bytes of the response reached it,
/// its connection cut: a truncated response must never look complete.
extension ClientConnection {
    func fail(_ failure: ExchangeFailure) {
        if let kind = failure.upstreamError { worker.metrics.countUpstreamError(kind) }
        if case .requestBodyTooLarge = failure { worker.metrics.requestsTooLarge.add(1) }
        binding.abandonAttempt(after: failure, now: worker.loop.now)
        if phase == .proxying, !response.started,
           let retry = binding.retry(after: failure, method: exchange.method, framing: request.framing, bodyForwarded: exchange.bodyForwarded) {
            connectUpstream(fresh: retry == .newConnection)
            return
        }

        audit(failure)
        if phase == .tunnel || (response.started && transport.bytesFlushed > exchange.responseStartsAt) {
            worker.log.warning("the exchange failed (\(failure.label)) after the response began; closing the client connection")
            close()
            return
        }
        if response.started {
            transport.output.truncate(keeping: Int(exchange.responseStartsAt - transport.bytesFlushed))
            relay.releaseGzip()
        }
        binding.unbind(reuse: false, now: worker.loop.now)
        releaseBufferedBody()
        GatewayResponse.write(.error(failure.status), requestID: exchange.requestID, keepAlive: false, headOnly: exchange.method == .head, added: addedFields,
                              into: transport.output)
        countResponse(status: failure.status)
        requestCompleted(status: failure.status)
        phase = .closing
    }

    private func audit(_ failure: ExchangeFailure) {
        switch failure {
        case .noLiveServer, .connectFailed, .connectTimeout, .responseTimeout, .reset, .invalidResponse:
            auditRequest(.upstreamUnavailable, details: [("status", .number(Int64(failure.status))), ("reason", .text(failure.label)),
                                                         ("upstream", .text(binding.server?.address.text ?? "none"))], withHead: false)
        case .invalidRequestBody:
            auditRequest(.malformedRequest, details: [("status", .number(400)), ("reason", .text("invalid chunked request body"))],
                         withHead: false)
        case .requestBodyTooLarge(let received, let limit):
            auditRequest(.requestTooLarge, details: [("chunked_bytes_received", .number(received)), ("limit", .number(limit))],
                         withHead: false)
        case .clientTooSlow(let reason, let bodyBytes):
            auditRequest(.clientTooSlow, details: [("reason", .text(reason)), ("body_bytes", .number(bodyBytes))], withHead: false)
        }
    }
}
