import CShims
import Glibc
import Logging

/// The admin listener on the control thread: accepts connections and serves one request on each.
/// Out of descriptors, it stops listening for a moment instead of spinning (logged once until
/// an accept works again).
final class AdminServer: Selectable {
    private let loop: EventLoop
    private let api: AdminAPI
    private var shortageLogged = false
    private static let retryAfter: UInt64 = 200_000_000

    init(fd: Int32, loop: EventLoop, token: AdminToken, gateway: Gateway) throws {
        self.loop = loop
        api = AdminAPI(token: token, gateway: gateway,
                       throttle: AdminAuthThrottle(maxFailures: gateway.adminSettings.authFailuresPerMinute, lockout: gateway.adminSettings.authLockout))
        super.init(fd: fd)
        try loop.register(self, events: EventLoop.readEvents)
    }

    override func handleEvents(_ events: UInt32) {
        while true {
            let clientFD = cshims_accept_nonblocking(fd, nil, nil)
            guard clientFD >= 0 else {
                let error = errno
                if error == EINTR || error == ECONNABORTED { continue }
                if error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM {
                    if !shortageLogged { Logger(label: "portcullis").error("admin accept: \(String(cString: strerror(error))): retrying shortly") }
                    shortageLogged = true
                    loop.setInterest(0, for: self)
                    loop.setDeadline(loop.now + Self.retryAfter, for: self)
                }
                return
            }
            shortageLogged = false
            let connection = AdminConnection(fd: clientFD, loop: loop, api: api)
            do {
                try loop.register(connection, events: EventLoop.connectionEventsWithWrite)
                connection.drive()
            } catch {
                close(clientFD)
            }
        }
    }

    override func deadlineReached() {
        loop.setInterest(EventLoop.readEvents, for: self)
    }
}

/// One admin connection: read a request (head and Content-Length body), answer, close.
final class AdminConnection: Selectable {
    /// Admin bodies are one blocklist entry or one ACME key authorization: a few hundred bytes.
    private static let maxBody = 64 * 1024
    private static let timeout: UInt64 = 10_000_000_000
    private let loop: EventLoop
    private let api: AdminAPI
    private let input = ByteBuffer(capacity: 4096)
    private let output = ByteBuffer(capacity: 4096)
    private var parser = RequestParser(limits: HeadLimits())
    private var head = RequestHead()
    private var answered = false
    /// The request was handed to the API, which answers later (`POST /admin/upgrade`).
    private var waitingForAnswer = false

    init(fd: Int32, loop: EventLoop, api: AdminAPI) {
        self.loop = loop
        self.api = api
        super.init(fd: fd)
        loop.setDeadline(loop.now + Self.timeout, for: self)
    }

    override func handleEvents(_ events: UInt32) {
        drive()
    }

    override func deadlineReached() {
        loop.deregisterAndClose(self)
    }

    func drive() {
        guard !waitingForAnswer else { return }
        if !answered {
            readAvailable()
            guard fd >= 0 else { return }
            answerIfComplete()
        }
        guard answered, fd >= 0 else { return }
        while !output.isEmpty {
            switch Socket.write(fd, from: output) {
            case .bytes: continue
            case .wouldBlock: return
            default: output.clear()
            }
        }
        loop.deregisterAndClose(self)
    }

    private func readAvailable() {
        while true {
            let (result, _) = Socket.read(fd, into: input)
            switch result {
            case .bytes: if input.readableCount > Self.maxBody + 16384 { return }
            case .wouldBlock: return
            case .endOfStream, .failed:
                if input.isEmpty { loop.deregisterAndClose(self) }
                return
            }
        }
    }

    private func answerIfComplete() {
        switch parser.parse(input.readable, into: &head) {
        case .incomplete:
            return
        case .failed(let failure):
            respond(.error(failure.status, "bad_request", failure.reason.description))
        case .complete:
            var bodyLength = 0
            switch head.bodyFraming {
            case .none, .untilClose: break
            case .length(let length): bodyLength = Int(length)
            case .chunked:
                respond(.error(411, "length_required", "send the body with Content-Length"))
                return
            }
            guard bodyLength <= Self.maxBody else {
                respond(.error(413, "request_too_large", "admin request bodies are limited to \(Self.maxBody) bytes"))
                return
            }
            guard input.readableCount >= head.headLength + bodyLength else { return }
            waitingForAnswer = true
            api.handle(makeRequest(bodyLength: bodyLength)) { [weak self] response in
                guard let self, self.fd >= 0 else { return }
                self.waitingForAnswer = false
                self.respond(response)
                self.loop.setDeadline(self.loop.now + Self.timeout, for: self)
                self.drive()
            }
            // Answered later: the connection waits as long as the answer may take.
            if waitingForAnswer { loop.setDeadline(loop.now + api.longestAnswer + Self.timeout, for: self) }
        }
    }

    private func makeRequest(bodyLength: Int) -> AdminRequest {
        let bytes = input.bytes
        func text(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
        var headers: [String: String] = [:]
        for field in head.fields {
            headers[text(Int(field.nameStart)..<Int(field.nameEnd)).lowercased()] = text(Int(field.valueStart)..<Int(field.valueEnd))
        }
        var query: [String: String] = [:]
        let target = text(head.pathAndQueryRange)
        if let mark = target.firstIndex(of: "?") {
            for pair in target[target.index(after: mark)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                let key = String(parts[0]).removingPercentEncoding ?? String(parts[0])
                query[key] = parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : ""
            }
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) } }
        return AdminRequest(method: text(head.methodRange), path: text(head.pathRange), query: query,
                            peer: named == 0 ? SocketAddress.ipText(storage) : nil, headers: headers,
                            body: Array(bytes[head.headLength..<(head.headLength + bodyLength)]))
    }

    private func respond(_ response: AdminResponse) {
        answered = true
        let body = Array(response.body.utf8)
        var text = "HTTP/1.1 \(response.status) \(Self.reason(response.status))\r\nContent-Type: \(response.contentType)\r\n"
        text += "Content-Length: \(body.count)\r\nCache-Control: no-store\r\nConnection: close\r\n"
        for (name, value) in response.extraHeaders { text += "\(name): \(value)\r\n" }
        text += "\r\n"
        output.append(string: text)
        output.append(body)
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 204: "No Content"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}
