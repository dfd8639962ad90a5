/// One request/response exchange between the client and an upstream: connect (or reuse),
/// forward the rewritten head and the re-framed body, relay the response, recycle the upstream.
extension ClientConnection {
    // MARK: Starting

    /// Runs the request path on the parsed head and starts forwarding, or answers locally.
    func startExchange() {
        borrowOutputBuffers()
        // Compared first: storing the same snapshot again costs a retain and a release.
        if snapshot !== worker.snapshot { snapshot = worker.snapshot }
        requestsServed += 1
        exchange = Exchange(startedAt: worker.loop.now, method: request.head.method)
        assignRequestID()
        let source = UnsafePointer(transport.input.readPointer)
        beginAccessRecord(source: source)
        let context = DecisionContext(snapshot: snapshot, secure: transport.tls != nil, peer: peerAddress, peerText: forwarding.peerIP,
                                      blocklist: worker.blocklist, now: worker.loop.now, epochSeconds: worker.epochSeconds,
                                      redis: worker.redisAvailability, matchingPath: worker.matchingPath)
        var scratch = moveOut(&worker.rateLimitScratch)
        let verdict = RequestPath.decide(&request.head, source: source, context: context, scratch: &scratch, into: &decision)
        worker.rateLimitScratch = consume scratch
        if !decision.strictChecks.isEmpty, !verdict.waitsOnRedis { sendLeaseRefills() }
        switch verdict {
        case .respond(let status):
            answer(.error(status))
        case .badPath(let reason):
            auditRequest(.malformedRequest, details: [("status", .number(400)), ("reason", .text(reason))])
            answer(.error(400))
        case .tooLarge(let length, let limit):
            worker.metrics.requestsTooLarge.add(1)
            auditRequest(.requestTooLarge, details: [("content_length", .number(length)), ("limit", .number(limit))])
            answer(.error(413))
        case .blocked:
            auditRequest(.ipBlocked, details: [("stage", .text("request"))])
            worker.metrics.blockedRequests.add(1)
            answer(.error(403), closing: true)
        case .rateLimited(let rule):
            answerRateLimited(rule: rule)
        case .checkStrictLimits(let upstreamIndex, let body):
            awaitStrictLimits(upstreamIndex: upstreamIndex, body: body)
        case .serveChallenge(let keyAuthorization):
            auditRequest(.acmeChallengeServed, details: [], withHead: true)
            answer(.challenge(keyAuthorization: keyAuthorization))
        case .redirectToHTTPS:
            answer(.redirectToHTTPS(request.head, from: source, port: snapshot.redirectPort ?? [], fallbackHost: localHost))
        case .forward(let upstreamIndex, let body):
            beginForwarding(upstreamIndex: upstreamIndex, body: body)
        }
    }

    /// Starts proxying the current request to an upstream of the pool at `upstreamIndex`.
    func beginForwarding(upstreamIndex: Int, body: BodyLimits) {
        let source = UnsafePointer(transport.input.readPointer)
        binding.bind(to: worker.pools[upstreamIndex])
        exchange.bodyLimit = body.max
        relay.encoder.start(clientMinorVersion: request.head.minorVersion)
        exchange.keepAlive = request.head.keepAlive
        exchange.isUpgrade = request.head.isUpgrade
        request.beginBody()
        let timeouts = snapshot.config.timeouts
        exchange.bodyClock.start(now: worker.loop.now, exchangeStartedAt: exchange.startedAt, bodyDone: request.bodyDone,
                                 minimumRate: timeouts.clientBodyMinRate, period: timeouts.clientBodyRatePeriod, totalTime: timeouts.clientBodyTotal)
        exchange.acceptsGzip = decision.routeAllowsGzip && snapshot.config.gzip.enabled && GzipDecision.clientAccepts(request.head, source: source)
        let buffering = startBufferingIfCovered(body)
        RequestHeadWriter.write(&request.head, from: source, requestID: exchange.requestID, context: forwarding, clientIP: decision.client.text,
                                peerIsTrusted: decision.client.peerIsTrustedProxy,
                                paths: snapshot.config.requests.paths, hostFallback: localHost,
                                leaveOpen: buffering && request.framing == .chunked, into: binding.forwardedHead)
        transport.input.consume(request.head.headLength)
        response.reset()
        if buffering {
            // The upstream exchange starts once the whole body is here (`bufferedBodyComplete`).
            phase = .bufferingBody
            phaseStartedAt = worker.loop.now
            return
        }
        beginUpstreamExchange()
    }

    /// Connects (or reuses) an upstream and starts sending the request.
    func beginUpstreamExchange() {
        phase = .proxying
        connectUpstream(fresh: false)
    }

    /// Attaches an upstream connection for the next attempt (`UpstreamBinding.attach`).
    func connectUpstream(fresh: Bool) {
        phaseStartedAt = worker.loop.now
        if let failure = binding.attach(fresh: fresh, for: self, worker: worker) { fail(failure) }
    }

    // MARK: Driving

    func stepProxying() -> Bool {
        guard let upstream = binding.connection else { return false }
        var progressed = false
        if upstream.connecting {
            guard upstream.writable else { return flushClient() }
            let error = upstream.finishConnect()
            guard error == 0 else {
                worker.log.warning("connect to \(upstream.server.address) failed: \(SystemError("connect", code: error))")
                fail(.connectFailed)
                return true
            }
            progressed = true
        }
        progressed = pumpRequestBody(into: upstream) || progressed
        progressed = flushUpstream(upstream) || progressed
        guard phase == .proxying, binding.connection === upstream else { return true }
        progressed = readUpstream(upstream) || progressed
        progressed = relayResponse(from: upstream) || progressed
        guard phase == .proxying, binding.connection === upstream else { return true }
        // A body gzipped whole leaves with its head, in one write once it is in: until then an
        // upstream that stalls or closes gets the client a clean 502/504, not a cut 200.
        if !relay.gzip.holdsWholeBody { progressed = flushClient() || progressed }
        if response.state == .done && fd >= 0 {
            finishExchange()
            return true
        }
        return progressed
    }

    private func flushUpstream(_ upstream: UpstreamConnection) -> Bool {
        guard upstream.writable, !upstream.output.isEmpty else { return false }
        switch upstream.flush() {
        case .bytes:
            requestProgressAt = worker.loop.now
            if upstream.output.isEmpty && request.bodyDone && bufferedBody == nil && !exchange.requestSent {
                exchange.requestSent = true
                phaseStartedAt = worker.loop.now
                exchange.sentAt = worker.loop.now
            }
            return true
        case .wouldBlock:
            return false
        case .endOfStream, .failed:
            fail(.reset(reusedIdle: upstream.reused))
            return true
        }
    }

    /// Reads from the upstream while both buffers on the way to the client have room. Bounding
    /// `output` alone is not enough: with a slow client, `relayBody` moves only the little room
    /// left in `output`, and each pass would read more into `upstream.input`, doubling it
    /// (`<=`: a response head at the limit still reaches the parser, which refuses it).
    private func readUpstream(_ upstream: UpstreamConnection) -> Bool {
        guard upstream.readable, !upstream.endOfStream, response.state != .done,
              transport.output.readableCount < Self.highWater, upstream.input.readableCount <= Self.highWater else { return false }
        switch upstream.read() {
        case .bytes:
            responseProgressAt = worker.loop.now
            return true
        case .wouldBlock:
            return false
        case .endOfStream, .failed:
            return true
        }
    }

    // MARK: Response

    private func relayResponse(from upstream: UpstreamConnection) -> Bool {
        switch response.state {
        case .awaitingHead:
            if upstream.input.isEmpty {
                guard upstream.endOfStream else { return false }
                fail(.reset(reusedIdle: upstream.reused))
                return true
            }
            let outcome = response.parseHead(upstream.input.readable, requestMethod: exchange.method)
            switch outcome {
            case .incomplete:
                guard upstream.endOfStream else { return false }
                fail(.invalidResponse)
            case .failed(let failure):
                worker.log.warning("invalid response from \(upstream.server.address): \(failure.reason)")
                fail(.invalidResponse)
            case .complete:
                beginResponse(from: upstream)
                // Queue the body bytes already read behind the head: one send, one segment.
                if response.state == .body { _ = relayBody(from: upstream) }
            }
            return true
        case .body:
            return relayBody(from: upstream)
        case .done:
            return false
        }
    }

    private func beginResponse(from upstream: UpstreamConnection) {
        let source = UnsafePointer(upstream.input.readPointer)
        let output = transport.output
        if response.head.isInterim {
            response.interimResponses += 1
            guard response.interimResponses <= Self.maxInterimResponses else {
                worker.log.warning("\(upstream.server.address) sent more than \(Self.maxInterimResponses) interim (1xx) responses; answering 502")
                fail(.invalidResponse)
                return
            }
            relay.encoder.writeInterimHead(&response.head, from: source, requestID: exchange.requestID, added: addedFields, into: output)
            upstream.input.consume(response.head.headLength)
            return
        }
        if response.head.status == 101 && !exchange.isUpgrade {
            fail(.invalidResponse)
            return
        }
        response.started = true
        exchange.responseStartsAt = transport.bytesFlushed + Int64(output.readableCount)
        countResponse(status: response.head.status)
        if exchange.requestSent { worker.metrics.upstreamDuration.observe(nanoseconds: worker.loop.now - exchange.sentAt) }
        binding.responseBegan()
        if response.head.status == 101 {
            relay.encoder.writeSwitchingProtocols(&response.head, from: source, requestID: exchange.requestID, added: addedFields, into: output)
            upstream.input.consume(response.head.headLength)
            requestCompleted(status: 101)
            phase = .tunnel
            return
        }
        exchange.upstreamReusable = response.head.keepAlive
        relay.begin(&response)
        if exchange.acceptsGzip {
            relay.startGzipIfQualifies(&response, source: source, requestMethod: exchange.method, settings: snapshot.config.gzip,
                                       mediaTypes: snapshot.gzipMediaTypes)
        }
        exchange.keepAlive = exchange.keepAlive && !worker.draining && !relay.encoder.bodyEndsWithClose
        relay.encoder.writeHead(&response.head, from: source, requestID: exchange.requestID, keepAlive: exchange.keepAlive, added: addedFields, into: output)
        upstream.input.consume(response.head.headLength)
    }

    /// Moves response body bytes to the client's buffer, up to the high-water mark
    /// (`ResponseRelay`), and acts on what that ran into.
    private func relayBody(from upstream: UpstreamConnection) -> Bool {
        switch relay.relayBody(&response, from: upstream.input, upstreamEnded: upstream.endOfStream, to: transport.output, limit: Self.highWater) {
        case .moved(let moved):
            return moved
        case .endedByClose:
            exchange.upstreamReusable = false
        case .truncated:
            // The one failure path answers it if nothing of the response has left (a body
            // gzipped whole), else cuts the client's connection.
            fail(.reset(reusedIdle: false))
        case .invalidChunk(let reason):
            worker.log.warning("invalid chunked body from \(upstream.server.address): \(reason)")
            fail(.invalidResponse)
        }
        return true
    }

    // MARK: Ending

    /// The response is complete: recycle or close the upstream, then serve the next request.
    private func finishExchange() {
        requestCompleted(status: response.head.status)
        releaseBufferedBody()
        binding.unbind(reuse: exchange.upstreamReusable && exchange.requestSent, now: worker.loop.now)
        if !request.bodyDone { exchange.keepAlive = false }
        phase = exchange.keepAlive ? .readingHead : .closing
        phaseStartedAt = worker.loop.now
    }
}
