/// One request/response exchange between the client and an upstream: connect (or reuse),
/// forward the rewritten head and the re-framed body, relay the response, recycle the upstream.
extension ProxyExchange {
    // MARK: Starting

    /// Runs the request path on the parsed head and starts forwarding, or answers locally.
    func start(for client: Client) {
        // Compared first: storing the same snapshot again costs a retain and a release.
        if snapshot !== worker.snapshot { snapshot = worker.snapshot }
        serial += 1
        step = .deciding
        state = ExchangeState(startedAt: worker.loop.now, method: client.request.head.method)
        assignRequestID(for: client)
        let source = UnsafePointer(client.input.readPointer)
        beginAccessRecord(source: source, for: client)
        let context = DecisionContext(snapshot: snapshot, secure: secure, peer: client.peerAddress, peerText: client.forwarding.peerIP,
                                      blocklist: worker.blocklist, now: worker.loop.now, epochSeconds: worker.epochSeconds,
                                      redis: worker.redisAvailability, matchingPath: worker.matchingPath)
        var scratch = moveOut(&worker.rateLimitScratch)
        let verdict = RequestPath.decide(&client.request.head, source: source, context: context, scratch: &scratch, into: &decision)
        worker.rateLimitScratch = consume scratch
        if !decision.strictChecks.isEmpty, !verdict.waitsOnRedis { sendLeaseRefills() }
        switch verdict {
        case .respond(let status):
            answer(.error(status), for: client)
        case .badPath(let reason):
            auditRequest(.malformedRequest, details: [("status", .number(400)), ("reason", .text(reason))], for: client)
            answer(.error(400), for: client)
        case .tooLarge(let length, let limit):
            worker.metrics.requestsTooLarge.add(1)
            auditRequest(.requestTooLarge, details: [("content_length", .number(length)), ("limit", .number(limit))], for: client)
            answer(.error(413), for: client)
        case .blocked:
            auditRequest(.ipBlocked, details: [("stage", .text("request"))], for: client)
            worker.metrics.blockedRequests.add(1)
            answer(.error(403), closing: true, for: client)
        case .rateLimited(let rule):
            answerRateLimited(rule: rule, for: client)
        case .checkStrictLimits(let upstreamIndex, let body):
            awaitStrictLimits(upstreamIndex: upstreamIndex, body: body, for: client)
        case .serveChallenge(let keyAuthorization):
            auditRequest(.acmeChallengeServed, details: [], withHead: true, for: client)
            answer(.challenge(keyAuthorization: keyAuthorization), for: client)
        case .redirectToHTTPS:
            answer(.redirectToHTTPS(client.request.head, from: source, port: snapshot.redirectPort ?? [], fallbackHost: client.localHost), for: client)
        case .forward(let upstreamIndex, let body):
            beginForwarding(upstreamIndex: upstreamIndex, body: body, for: client)
        }
    }

    /// Starts proxying the current request to an upstream of the pool at `upstreamIndex`.
    func beginForwarding(upstreamIndex: Int, body: BodyLimits, for client: Client) {
        let source = UnsafePointer(client.input.readPointer)
        binding.bind(to: worker.pools[upstreamIndex])
        state.bodyLimit = body.max
        relay.encoder.start(clientMinorVersion: client.request.head.minorVersion)
        state.keepAlive = client.request.head.keepAlive
        state.isUpgrade = client.request.head.isUpgrade
        client.request.beginBody()
        let timeouts = snapshot.config.timeouts
        state.bodyClock.start(now: worker.loop.now, exchangeStartedAt: state.startedAt, bodyDone: client.request.bodyDone,
                              minimumRate: timeouts.clientBodyMinRate, period: timeouts.clientBodyRatePeriod, totalTime: timeouts.clientBodyTotal)
        state.acceptsGzip = decision.routeAllowsGzip && snapshot.config.gzip.enabled && GzipDecision.clientAccepts(client.request.head, source: source)
        let buffering = startBufferingIfCovered(body, for: client)
        RequestHeadWriter.write(&client.request.head, from: source, requestID: state.requestID, context: client.forwarding, clientIP: decision.client.text,
                                peerIsTrusted: decision.client.peerIsTrustedProxy,
                                paths: snapshot.config.requests.paths, hostFallback: client.localHost,
                                leaveOpen: buffering && client.request.framing == .chunked, into: binding.forwardedHead)
        client.input.consume(client.request.head.headLength)
        response.reset()
        if buffering {
            // The upstream exchange starts once the whole body is here (`bufferedBodyComplete`).
            step = .bufferingBody
            return
        }
        beginUpstreamExchange(for: client)
    }

    /// Connects (or reuses) an upstream and starts sending the request.
    func beginUpstreamExchange(for client: Client) {
        step = .proxying
        connectUpstream(fresh: false, for: client)
    }

    /// Attaches an upstream connection for the next attempt (`UpstreamBinding.attach`).
    func connectUpstream(fresh: Bool, for client: Client) {
        waitStartedAt = worker.loop.now
        if let failure = binding.attach(fresh: fresh, for: client, worker: worker) { fail(failure, for: client) }
    }

    // MARK: Driving

    func stepProxying(for client: Client) -> Bool {
        guard let upstream = binding.connection else { return false }
        var progressed = false
        if upstream.connecting {
            guard upstream.writable else { return client.flushClient() }
            let error = upstream.finishConnect()
            guard error == 0 else {
                worker.log.warning("connect to \(upstream.server.address) failed: \(SystemError("connect", code: error))")
                fail(.connectFailed, for: client)
                return true
            }
            progressed = true
        }
        progressed = pumpRequestBody(into: upstream, for: client) || progressed
        progressed = flushUpstream(upstream, for: client) || progressed
        guard step == .proxying, binding.connection === upstream else { return true }
        progressed = readUpstream(upstream, for: client) || progressed
        progressed = relayResponse(from: upstream, for: client) || progressed
        guard step == .proxying, binding.connection === upstream else { return true }
        // A body gzipped whole leaves with its head, in one write once it is in: until then an
        // upstream that stalls or closes gets the client a clean 502/504, not a cut 200.
        if !relay.gzip.holdsWholeBody { progressed = client.flushClient() || progressed }
        if response.state == .done && client.isOpen {
            finishExchange(for: client)
            return true
        }
        return progressed
    }

    private func flushUpstream(_ upstream: UpstreamConnection, for client: Client) -> Bool {
        guard upstream.writable, !upstream.output.isEmpty else { return false }
        switch upstream.flush() {
        case .bytes:
            client.requestProgressAt = worker.loop.now
            if upstream.output.isEmpty && client.request.bodyDone && bufferedBody == nil && !state.requestSent {
                state.requestSent = true
                waitStartedAt = worker.loop.now
                state.sentAt = worker.loop.now
            }
            return true
        case .wouldBlock:
            return false
        case .endOfStream, .failed:
            fail(.reset(reusedIdle: upstream.reused), for: client)
            return true
        }
    }

    /// Reads from the upstream while both buffers on the way to the client have room. Bounding
    /// `output` alone is not enough: with a slow client, `relayBody` moves only the little room
    /// left in `output`, and each pass would read more into `upstream.input`, doubling it
    /// (`<=`: a response head at the limit still reaches the parser, which refuses it).
    private func readUpstream(_ upstream: UpstreamConnection, for client: Client) -> Bool {
        guard upstream.readable, !upstream.endOfStream, response.state != .done,
              client.output.readableCount < ExchangeLimits.highWater, upstream.input.readableCount <= ExchangeLimits.highWater else { return false }
        switch upstream.read() {
        case .bytes:
            client.responseProgressAt = worker.loop.now
            return true
        case .wouldBlock:
            return false
        case .endOfStream, .failed:
            return true
        }
    }

    // MARK: Response

    private func relayResponse(from upstream: UpstreamConnection, for client: Client) -> Bool {
        switch response.state {
        case .awaitingHead:
            if upstream.input.isEmpty {
                guard upstream.endOfStream else { return false }
                fail(.reset(reusedIdle: upstream.reused), for: client)
                return true
            }
            let outcome = response.parseHead(upstream.input.readable, requestMethod: state.method)
            switch outcome {
            case .incomplete:
                guard upstream.endOfStream else { return false }
                fail(.invalidResponse, for: client)
            case .failed(let failure):
                worker.log.warning("invalid response from \(upstream.server.address): \(failure.reason)")
                fail(.invalidResponse, for: client)
            case .complete:
                beginResponse(from: upstream, for: client)
                // Queue the body bytes already read behind the head: one send, one segment.
                if response.state == .body { _ = relayBody(from: upstream, for: client) }
            }
            return true
        case .body:
            return relayBody(from: upstream, for: client)
        case .done:
            return false
        }
    }

    private func beginResponse(from upstream: UpstreamConnection, for client: Client) {
        let source = UnsafePointer(upstream.input.readPointer)
        let output = client.output
        if response.head.isInterim {
            response.interimResponses += 1
            guard response.interimResponses <= ExchangeLimits.maxInterimResponses else {
                worker.log.warning("\(upstream.server.address) sent more than \(ExchangeLimits.maxInterimResponses) interim (1xx) responses; answering 502")
                fail(.invalidResponse, for: client)
                return
            }
            relay.encoder.writeInterimHead(&response.head, from: source, requestID: state.requestID, added: addedFields, into: output)
            upstream.input.consume(response.head.headLength)
            return
        }
        if response.head.status == 101 && !state.isUpgrade {
            fail(.invalidResponse, for: client)
            return
        }
        response.started = true
        state.responseStartsAt = client.bytesFlushed + Int64(output.readableCount)
        countResponse(status: response.head.status)
        if state.requestSent { worker.metrics.upstreamDuration.observe(nanoseconds: worker.loop.now - state.sentAt) }
        binding.responseBegan()
        if response.head.status == 101 {
            relay.encoder.writeSwitchingProtocols(&response.head, from: source, requestID: state.requestID, added: addedFields, into: output)
            upstream.input.consume(response.head.headLength)
            requestCompleted(status: 101, for: client)
            step = .tunnel
            client.startTunnel()
            return
        }
        state.upstreamReusable = response.head.keepAlive
        relay.begin(&response)
        if state.acceptsGzip {
            relay.startGzipIfQualifies(&response, source: source, requestMethod: state.method, settings: snapshot.config.gzip,
                                       mediaTypes: snapshot.gzipMediaTypes)
        }
        state.keepAlive = state.keepAlive && !worker.draining && !relay.encoder.bodyEndsWithClose
        relay.encoder.writeHead(&response.head, from: source, requestID: state.requestID, keepAlive: state.keepAlive, added: addedFields, into: output)
        upstream.input.consume(response.head.headLength)
    }

    /// Moves response body bytes to the client's buffer, up to the high-water mark
    /// (`ResponseRelay`), and acts on what that ran into.
    private func relayBody(from upstream: UpstreamConnection, for client: Client) -> Bool {
        switch relay.relayBody(&response, from: upstream.input, upstreamEnded: upstream.endOfStream, to: client.output, limit: ExchangeLimits.highWater) {
        case .moved(let moved):
            return moved
        case .endedByClose:
            state.upstreamReusable = false
        case .truncated:
            // The one failure path answers it if nothing of the response has left (a body
            // gzipped whole), else cuts the client's connection.
            fail(.reset(reusedIdle: false), for: client)
        case .invalidChunk(let reason):
            worker.log.warning("invalid chunked body from \(upstream.server.address): \(reason)")
            fail(.invalidResponse, for: client)
        }
        return true
    }

    // MARK: Ending

    /// The response is complete: recycle or close the upstream, then serve the next request.
    private func finishExchange(for client: Client) {
        requestCompleted(status: response.head.status, for: client)
        releaseBufferedBody()
        binding.unbind(reuse: state.upstreamReusable && state.requestSent, now: worker.loop.now)
        if !client.request.bodyDone { state.keepAlive = false }
        end(keepAlive: state.keepAlive, for: client)
    }
}
