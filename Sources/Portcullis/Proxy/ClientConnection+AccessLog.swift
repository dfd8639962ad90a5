/// The end of each request as operators see it: the latency histogram and the access log (the
/// record is begun from the request head, only when the access log is on, and finished when the
/// response is complete).
extension ClientConnection {
    /// Call before the head is consumed.
    func beginAccessRecord(source: UnsafePointer<UInt8>) {
        guard worker.accessQueue != nil else { return }
        func text(_ range: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(start: source + range.lowerBound, count: range.count), as: UTF8.self) }
        var record = AccessRecord(milliseconds: worker.epochMilliseconds, clientIP: String(decoding: forwarding.peerIP, as: UTF8.self),
                                  method: text(request.head.methodRange), target: text(request.head.pathAndQueryRange),
                                  version: request.head.minorVersion == 0 ? "HTTP/1.0" : "HTTP/1.1", requestID: exchange.requestID.text)
        for field in request.head.fields {
            let name = source + Int(field.nameStart)
            let count = Int(field.nameEnd - field.nameStart)
            if Bytes.equalsLowercase(name, count, "user-agent") { record.userAgent = text(Int(field.valueStart)..<Int(field.valueEnd)) }
            if Bytes.equalsLowercase(name, count, "referer") { record.referer = text(Int(field.valueStart)..<Int(field.valueEnd)) }
        }
        accessRecord = record
        exchange.accessBytesMark = transport.bytesFlushed + Int64(transport.output.readableCount)
    }

    /// The request is answered in full: its latency is measured and its record logged.
    func requestCompleted(status: Int) {
        worker.metrics.requestDuration.observe(nanoseconds: worker.loop.now - exchange.startedAt)
        finishAccessRecord(status: status)
    }

    /// The response is complete (or the gateway answered): the record goes to the control thread.
    private func finishAccessRecord(status: Int) {
        guard var record = accessRecord, let queue = worker.accessQueue else { return }
        accessRecord = nil
        if !decision.client.text.isEmpty { record.clientIP = String(decoding: decision.client.text, as: UTF8.self) }
        record.status = status
        record.bytesSent = transport.bytesFlushed + Int64(transport.output.readableCount) - exchange.accessBytesMark
        record.durationMicroseconds = Int64((worker.loop.now - exchange.startedAt) / 1000)
        queue.push(record)
    }
}
