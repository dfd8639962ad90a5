/// The client codec's writer of the gateway's own answers (`LocalAnswer`), over HTTP/1.x:
/// errors and refusals (a small JSON body naming the error and the request id, so an operator
/// can find the request in logs), ACME challenge answers and redirects to HTTPS.
enum GatewayResponse {
    /// Writes `answer` whole, with `Connection: close` unless `keepAlive`; with `headOnly` (a
    /// `HEAD` request) the head alone, its `Content-Length` that of the body not sent.
    static func write(_ answer: LocalAnswer, requestID: RequestID, keepAlive: Bool, headOnly: Bool, added: AddedFields, into out: ByteBuffer) {
        switch answer.body {
        case .error(let detail):
            writeError(status: answer.status, detail: detail, requestID: requestID, keepAlive: keepAlive, headOnly: headOnly, added: added, into: out)
        case .text(let body):
            out.append("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCache-Control: no-store\r\n")
            endHead(requestID: requestID, added: added, contentLength: body.count, keepAlive: keepAlive, into: out)
            if !headOnly { out.append(body) }
        case .redirect(let location):
            out.append("HTTP/1.1 308 Permanent Redirect\r\nLocation: ")
            out.append(location)
            out.append("\r\n")
            endHead(requestID: requestID, added: added, contentLength: 0, keepAlive: keepAlive, into: out)
        }
    }

    private static func writeError(status: Int, detail: [UInt8], requestID: RequestID, keepAlive: Bool, headOnly: Bool, added: AddedFields,
                                   into out: ByteBuffer) {
        let (reason, code) = describe(status)
        out.append("HTTP/1.1 ")
        out.append(decimal: status)
        out.append(byte: ASCII.space)
        out.append(reason)
        out.append("\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n")
        // RFC 9110 §15.5.6: a 405 names the methods that are served (CONNECT and TRACE never are).
        if status == 405 { out.append("Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH\r\n") }
        let bodyLength = 42 + code.utf8CodeUnitCount + requestID.count + detail.count
        endHead(requestID: requestID, added: added, contentLength: bodyLength, keepAlive: keepAlive, into: out)
        guard !headOnly else { return }
        out.append("{\"error\":\"")
        out.append(code)
        out.append("\",\"status\":")
        out.append(decimal: status)
        out.append(",\"request_id\":\"")
        requestID.append(to: out)
        out.append("\"")
        out.append(detail)
        out.append("}\n")
    }

    /// The fields every gateway answer ends its head with: the request id, the connection's extra
    /// added fields (security headers, rate-limit status), the length, `Connection: close` unless kept alive, the blank line.
    private static func endHead(requestID: RequestID, added: AddedFields, contentLength: Int, keepAlive: Bool, into out: ByteBuffer) {
        out.append("X-Request-ID: ")
        requestID.append(to: out)
        out.append("\r\n")
        added.append(to: out)
        out.append("Content-Length: ")
        out.append(decimal: contentLength)
        out.append(keepAlive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n")
    }

    /// Reason phrase and JSON error code for each status the gateway produces.
    private static func describe(_ status: Int) -> (StaticString, StaticString) {
        switch status {
        case 400: ("Bad Request", "bad_request")
        case 403: ("Forbidden", "blocked")
        case 404: ("Not Found", "no_route")
        case 405: ("Method Not Allowed", "method_not_allowed")
        case 408: ("Request Timeout", "request_timeout")
        case 413: ("Content Too Large", "request_too_large")
        case 414: ("URI Too Long", "uri_too_long")
        case 417: ("Expectation Failed", "expectation_failed")
        case 429: ("Too Many Requests", "rate_limited")
        case 431: ("Request Header Fields Too Large", "header_fields_too_large")
        case 501: ("Not Implemented", "not_implemented")
        case 502: ("Bad Gateway", "bad_gateway")
        case 503: ("Service Unavailable", "service_unavailable")
        case 504: ("Gateway Timeout", "gateway_timeout")
        case 505: ("HTTP Version Not Supported", "http_version_not_supported")
        default: ("Internal Server Error", "internal_error")
        }
    }
}
