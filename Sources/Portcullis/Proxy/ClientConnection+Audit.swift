/// Audit events about the connection's current request: the request's facts are copied out of
/// its head (only when an event is made, never per request).
extension ClientConnection {
    /// Records `type` for the current request. With `withHead` the method, path and user agent
    /// come from the head, which must not be consumed yet.
    func auditRequest(_ type: AuditEventType, details: [(String, AuditEvent.Value)], withHead: Bool = true) {
        let client = withHead && !decision.client.text.isEmpty ? decision.client.text : forwarding.peerIP
        var event = AuditEvent(type, milliseconds: worker.epochMilliseconds, clientIP: String(decoding: client, as: UTF8.self), details: details)
        if !exchange.requestID.isEmpty { event.requestID = exchange.requestID.text }
        if withHead {
            let source = UnsafePointer(transport.input.readPointer)
            func text(_ range: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(start: source + range.lowerBound, count: range.count), as: UTF8.self) }
            event.method = text(request.head.methodRange)
            event.path = text(request.head.pathRange)
            for field in request.head.fields where Bytes.equalsLowercase(source + Int(field.nameStart), Int(field.nameEnd - field.nameStart), "user-agent") {
                event.userAgent = text(Int(field.valueStart)..<Int(field.valueEnd))
            }
        }
        worker.audit(event)
    }
}
