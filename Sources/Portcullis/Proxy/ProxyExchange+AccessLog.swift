/// The end of each request as operators see it: the latency histogram and the access log (the
/// record is begun from the request head, only when the access log is on, and finished when the
/// response is complete).
extension ProxyExchange {
    /// Call before the head is consumed.
    func beginAccessRecord(source: UnsafePointer<UInt8>, for client: Client) {
        guard worker.accessQueue != nil else { return }
        func text(_ range: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(start: source + range.lowerBound, count: range.count), as: UTF8.self) }
        var record = AccessRecord(milliseconds: worker.epochMilliseconds, clientIP: String(decoding: client.forwarding.peerIP, as: UTF8.self),
                                  method: text(client.request.head.methodRange), target: text(client.request.head.pathAndQueryRange),
                                  version: client.request.head.minorVersion == 0 ? "HTTP/1.0" : "HTTP/1.1", requestID: state.requestID.text)
        for field in client.request.head.fields {
            let name = source + Int(field.nameStart)
            let count = Int(field.nameEnd - field.nameStart)
            if Bytes.equalsLowercase(name, count, "user-agent") { record.userAgent = text(Int(field.valueStart)..<Int(field.valueEnd)) }
            if Bytes.equalsLowercase(name, count, "referer") { record.referer = text(Int(field.valueStart)..<Int(field.valueEnd)) }
        }
        accessRecord = record
        state.accessBytesMark = client.bytesFlushed + Int64(client.output.readableCount)
    }

    /// The request is answered in full: its latency is measured and its record logged.
    func requestCompleted(status: Int, for client: Client) {
        worker.metrics.requestDuration.observe(nanoseconds: worker.loop.now - state.startedAt)
        finishAccessRecord(status: status, for: client)
    }

    /// The response is complete (or the gateway answered): the record goes to the control thread.
    private func finishAccessRecord(status: Int, for client: Client) {
        guard var record = accessRecord, let queue = worker.accessQueue else { return }
        accessRecord = nil
        if !decision.client.text.isEmpty { record.clientIP = String(decoding: decision.client.text, as: UTF8.self) }
        record.status = status
        record.bytesSent = client.bytesFlushed + Int64(client.output.readableCount) - state.accessBytesMark
        record.durationMicroseconds = Int64((worker.loop.now - state.startedAt) / 1000)
        queue.push(record)
    }
}
