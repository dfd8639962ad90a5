/// One request as the access log records it: captured when the head is complete, finished when
/// the response is, formatted on the control thread.
struct AccessRecord: Sendable {
    var milliseconds: Int64
    var clientIP: String
    var method: String
    var target: String
    var version: String
    var referer: String?
    var userAgent: String?
    var requestID: String
    var status = 0
    /// Response bytes the gateway sent for this request (head and body, before TLS).
    var bytesSent: Int64 = 0
    var durationMicroseconds: Int64 = 0

    /// The line for `format`, with its newline.
    func line(_ format: AccessLogSettings.Format) -> [UInt8] {
        switch format {
        case .json:
            var text = "{\"timestamp\":\"\(UTCTime.rfc3339(milliseconds: milliseconds))\",\"client_ip\":\(JSONText.quoted(clientIP))"
            text += ",\"method\":\(JSONText.quoted(method)),\"target\":\(JSONText.quoted(target)),\"version\":\(JSONText.quoted(version))"
            text += ",\"status\":\(status),\"bytes_sent\":\(bytesSent),\"duration_ms\":\(Double(durationMicroseconds) / 1000)"
            text += ",\"request_id\":\(JSONText.quoted(requestID)),\"referer\":\(referer.map(JSONText.quoted) ?? "null")"
            text += ",\"user_agent\":\(userAgent.map(JSONText.quoted) ?? "null")}\n"
            return Array(text.utf8)
        case .combined:
            func quoted(_ value: String?) -> String {
                "\"" + (value ?? "-").replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"") + "\""
            }
            let request = quoted("\(method) \(target) \(version)")
            return Array("\(clientIP) - - [\(UTCTime.format(milliseconds / 1000, "%d/%b/%Y:%H:%M:%S +0000"))] \(request) \(status) \(bytesSent) \(quoted(referer)) \(quoted(userAgent)) \(requestID) \(Double(durationMicroseconds) / 1_000_000)\n".utf8)
        }
    }
}

private extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for character in self { if character == target { out += replacement } else { out.append(character) } }
        return out
    }
}
