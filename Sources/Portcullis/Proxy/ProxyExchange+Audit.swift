/// Audit events about the connection's current request: the request's facts are copied out of
/// its head (only when an event is made, never per request).
extension ProxyExchange {
    /// Records `type` for the current request. With `withHead` the method, path and user agent
    /// come from the head, which must not be consumed yet.
    func auditRequest(_ type: AuditEventType, details: [(String, AuditEvent.Value)], withHead: Bool = true, for client: Client) {
        let clientIP = withHead && !decision.client.text.isEmpty ? decision.client.text : client.forwarding.peerIP
        var event = AuditEvent(type, milliseconds: worker.epochMilliseconds, clientIP: String(decoding: clientIP, as: UTF8.self), details: details)
        if !state.requestID.isEmpty { event.requestID = state.requestID.text }
        if withHead {
            let source = UnsafePointer(client.input.readPointer)
            func text(_ range: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(start: source + range.lowerBound, count: range.count), as: UTF8.self) }
            event.method = text(client.request.head.methodRange)
            event.path = text(client.request.head.pathRange)
            for field in client.request.head.fields where Bytes.equalsLowercase(source + Int(field.nameStart), Int(field.nameEnd - field.nameStart), "user-agent") {
                event.userAgent = text(Int(field.valueStart)..<Int(field.valueEnd))
            }
        }
        worker.audit(event)
    }
}
