import CShims
import Glibc

/// Limits on the request head, per route snapshot (`[limits]` in the config).
public struct HeadLimits: Sendable, Equatable {
    /// Longest request line in bytes (414 beyond).
    public var maxRequestLine: Int
    /// Largest header block in bytes, request line excluded (431 beyond).
    public var maxHeaderBytes: Int
    /// Most header fields (431 beyond).
    public var maxHeaderCount: Int

    public init(maxRequestLine: Int = 8192, maxHeaderBytes: Int = 32768, maxHeaderCount: Int = 100) {
        self.maxRequestLine = maxRequestLine
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
    }
}

/// A strict HTTP/1.1 request-head parser (RFC 9112) over the bytes of a connection buffer.
///
/// It parses what has arrived in one pass; when the head is not complete yet, later calls scan
/// only the new bytes for the blank line that ends it and parse again once it is there, so a
/// head trickling in byte by byte costs linear, not quadratic, time. Anything ambiguous is
/// refused rather than guessed: CL with TE, differing lengths, codings other than `chunked`,
/// obs-fold, bare CR or LF, control bytes, bad field names, whitespace before the colon,
/// missing or repeated Host, dot segments.
public struct RequestParser {
    /// The outcome of one `parse` call.
    public enum Outcome: Equatable {
        /// More bytes are needed.
        case incomplete
        /// `head` is filled in; the head is `head.headLength` bytes long.
        case complete
        /// The request is refused.
        case failed(HTTPParseError)
    }

    public var limits: HeadLimits
    /// Bytes already seen in an incomplete head (0: none, the next call parses straight away).
    private var scannedUpTo = 0
    private static let maxLeadingEmptyLines = 4

    public init(limits: HeadLimits) {
        self.limits = limits
    }

    /// Forgets the incremental scan position (call after a head is consumed).
    public mutating func reset() {
        scannedUpTo = 0
    }

    /// Parses the head at the start of `bytes` into `head`.
    public mutating func parse(_ bytes: UnsafeBufferPointer<UInt8>, into head: inout RequestHead) -> Outcome {
        guard let pointer = bytes.baseAddress, bytes.count > 0 else { return .incomplete }
        let count = bytes.count
        var start = 0
        while start + 1 < count && pointer[start] == ASCII.cr && pointer[start + 1] == ASCII.lf {
            start += 2
        }
        if start > 2 * Self.maxLeadingEmptyLines { return .failed(HTTPParseError(400, "too many empty lines before request")) }
        if scannedUpTo > 0 {
            let searchFrom = max(start, scannedUpTo - 3)
            if cshims_find_head_end(pointer + searchFrom, count - searchFrom) < 0 {
                let anomaly = Self.hasLineAnomaly(pointer, from: max(start, scannedUpTo - 1), to: count)
                scannedUpTo = count
                if !anomaly { return checkIncompleteLimits(pointer, start: start, count: count) }
            }
        }
        head.reset()
        let outcome = parseHead(pointer, start: start, count: count, into: &head)
        guard outcome != .incomplete else {
            scannedUpTo = count
            return checkIncompleteLimits(pointer, start: start, count: count)
        }
        scannedUpTo = 0
        return outcome
    }

    /// A bare LF, or a CR not followed by LF, among bytes not seen before: parse now to refuse it.
    private static func hasLineAnomaly(_ pointer: UnsafePointer<UInt8>, from: Int, to: Int) -> Bool {
        var index = from
        while index < to {
            let byte = pointer[index]
            if byte == ASCII.lf && (index == 0 || pointer[index - 1] != ASCII.cr) { return true }
            if byte == ASCII.cr && index + 1 < to && pointer[index + 1] != ASCII.lf { return true }
            index += 1
        }
        return false
    }

    private func checkIncompleteLimits(_ pointer: UnsafePointer<UInt8>, start: Int, count: Int) -> Outcome {
        let lineLimit = limits.maxRequestLine + 2
        let lineEnd = Bytes.find(ASCII.lf, pointer, from: start, to: min(count, start + lineLimit))
        if lineEnd == nil && count - start >= lineLimit {
            return .failed(HTTPParseError(414, "request line too long"))
        }
        if count - start > limits.maxRequestLine + limits.maxHeaderBytes + 4 {
            return .failed(HTTPParseError(431, "header block too large"))
        }
        return .incomplete
    }

    private func parseHead(_ pointer: UnsafePointer<UInt8>, start: Int, count: Int, into head: inout RequestHead) -> Outcome {
        guard let lineFeed = Bytes.find(ASCII.lf, pointer, from: start, to: count) else { return .incomplete }
        guard lineFeed > start, pointer[lineFeed - 1] == ASCII.cr else { return .failed(HTTPParseError(400, "bare LF in request line")) }
        let lineEnd = lineFeed - 1
        if lineEnd - start > limits.maxRequestLine { return .failed(HTTPParseError(414, "request line too long")) }

        // method SP request-target SP HTTP-version
        var index = start
        while index < lineEnd && ByteClass.table[Int(pointer[index])] & ByteClass.token != 0 { index += 1 }
        guard index > start, index < lineEnd, pointer[index] == ASCII.space else {
            return .failed(HTTPParseError(400, "invalid method"))
        }
        head.methodRange = start..<index
        head.method = HTTPMethod.classify(pointer + start, index - start)
        index += 1
        let targetStart = index
        while index < lineEnd && pointer[index] != ASCII.space {
            guard ByteClass.table[Int(pointer[index])] & ByteClass.target != 0 else {
                return .failed(HTTPParseError(400, "invalid byte in request target"))
            }
            index += 1
        }
        guard index > targetStart, index < lineEnd else { return .failed(HTTPParseError(400, "malformed request line")) }
        head.targetRange = targetStart..<index
        index += 1
        if let failure = parseVersion(pointer, from: index, to: lineEnd, into: &head) { return .failed(failure) }
        if let failure = parseTarget(pointer, head.targetRange, into: &head) { return .failed(failure) }

        switch FieldLines.parse(pointer, from: lineFeed + 1, count: count,
                                maxBytes: limits.maxHeaderBytes, maxCount: limits.maxHeaderCount, into: &head.fields) {
        case .complete(let headLength): head.headLength = headLength
        case .incomplete: return .incomplete
        case .failed(let failure): return .failed(failure)
        }
        if let failure = interpretFields(pointer, into: &head) { return .failed(failure) }
        return .complete
    }

    private func parseVersion(_ pointer: UnsafePointer<UInt8>, from: Int, to: Int, into head: inout RequestHead) -> HTTPParseError? {
        guard to - from == 8, memcmp(pointer + from, "HTTP/", 5) == 0,
              pointer[from + 6] == ASCII.dot else {
            return HTTPParseError(400, "malformed HTTP version")
        }
        let major = pointer[from + 5]
        let minor = pointer[from + 7]
        guard major >= ASCII.zero && major <= ASCII.nine && minor >= ASCII.zero && minor <= ASCII.nine else {
            return HTTPParseError(400, "malformed HTTP version")
        }
        guard major == ASCII.zero + 1 else { return HTTPParseError(505, "HTTP version not supported") }
        head.minorVersion = minor == ASCII.zero ? 0 : 1
        return nil
    }

    /// Origin-form (`/path?query`) or absolute-form (`http://authority/path`); nothing else.
    private func parseTarget(_ pointer: UnsafePointer<UInt8>, _ target: Range<Int>, into head: inout RequestHead) -> HTTPParseError? {
        var pathStart = target.lowerBound
        if pointer[pathStart] != ASCII.slash {
            let schemeLength: Int
            if target.count > 7 && Bytes.equalsLowercase(pointer + pathStart, 7, "http://") {
                schemeLength = 7
            } else if target.count > 8 && Bytes.equalsLowercase(pointer + pathStart, 8, "https://") {
                schemeLength = 8
            } else {
                return HTTPParseError(400, "unsupported request target form")
            }
            let authorityStart = pathStart + schemeLength
            guard let slash = Bytes.find(ASCII.slash, pointer, from: authorityStart, to: target.upperBound),
                  slash > authorityStart else {
                return HTTPParseError(400, "absolute-form target without path")
            }
            guard Self.isValidAuthority(pointer, authorityStart, slash) else {
                return HTTPParseError(400, "invalid authority in request target")
            }
            head.authorityRange = authorityStart..<slash
            head.isAbsoluteForm = true
            pathStart = slash
        }
        if Bytes.find(ASCII.hash, pointer, from: pathStart, to: target.upperBound) != nil {
            return HTTPParseError(400, "fragment in request target")
        }
        let pathEnd = Bytes.find(ASCII.question, pointer, from: pathStart, to: target.upperBound) ?? target.upperBound
        head.pathRange = pathStart..<pathEnd
        head.pathAndQueryRange = pathStart..<target.upperBound
        if Self.hasDotSegment(pointer, pathStart, pathEnd) {
            return HTTPParseError(400, "dot segment in path")
        }
        return nil
    }

    /// `host[:port]` (RFC 9110 §7.2): host characters only (no userinfo), an IPv6 literal in
    /// brackets, and a port, when present, of 1 to 5 digits no greater than 65535. An empty
    /// authority is allowed (RFC 9112 §3.2: a Host field may be empty).
    static func isValidAuthority(_ pointer: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        var hostEnd = end
        if start < end && pointer[start] == ASCII.leftBracket {
            guard let close = Bytes.find(ASCII.rightBracket, pointer, from: start, to: end), close > start + 1 else { return false }
            for position in start + 1..<close where !(ByteClass.table[Int(pointer[position])] & ByteClass.hex != 0
                                                     || pointer[position] == ASCII.colon || pointer[position] == ASCII.dot) {
                return false
            }
            hostEnd = close + 1
            guard hostEnd == end || pointer[hostEnd] == ASCII.colon else { return false }
        } else {
            hostEnd = Bytes.find(ASCII.colon, pointer, from: start, to: end) ?? end
            for position in start..<hostEnd where ByteClass.table[Int(pointer[position])] & ByteClass.regName == 0 {
                return false
            }
        }
        guard hostEnd < end else { return true }
        let portStart = hostEnd + 1
        guard hostEnd > start, end - portStart >= 1, end - portStart <= 5 else { return false }
        var port = 0
        for position in portStart..<end {
            let digit = pointer[position]
            guard digit >= ASCII.zero && digit <= ASCII.nine else { return false }
            port = port * 10 + Int(digit - ASCII.zero)
        }
        return port <= 65535
    }

    /// True if a path segment is `.` or `..`, literally or percent-encoded: such paths mean
    /// different things to different servers, so the gateway refuses them.
    static func hasDotSegment(_ pointer: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        var segmentStart = start
        var index = start
        while index <= end {
            if index == end || pointer[index] == ASCII.slash {
                if isDotSegment(pointer, segmentStart, index) { return true }
                segmentStart = index + 1
            }
            index += 1
        }
        return false
    }

    private static func isDotSegment(_ pointer: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        var dots = 0
        var index = start
        while index < end {
            if pointer[index] == ASCII.dot {
                index += 1
            } else if pointer[index] == ASCII.percent && index + 3 <= end
                        && pointer[index + 1] == ASCII.zero + 2 && pointer[index + 2] | 0x20 == 0x65 {
                index += 3
            } else {
                return false
            }
            dots += 1
            if dots > 2 { return false }
        }
        return dots > 0
    }

    /// Applies the framing and connection rules of RFC 9112 §6 and §9 to the parsed fields.
    private func interpretFields(_ pointer: UnsafePointer<UInt8>, into head: inout RequestHead) -> HTTPParseError? {
        var contentLength: Int64 = -1
        var transferEncodings = 0
        var hosts = 0
        var connection = ConnectionOptions()
        var upgradeField = false
        var webSocketKey = false
        var webSocketVersion = false
        for field in head.fields {
            let start = Int(field.valueStart)
            let end = Int(field.valueEnd)
            switch field.kind {
            case .contentLength:
                guard Bytes.mergeContentLength(pointer, start, end, into: &contentLength) else {
                    return HTTPParseError(400, "invalid or conflicting Content-Length")
                }
            case .transferEncoding:
                // RFC 9112 §6.1: chunked must be the final coding (else 400); any other coding
                // is one the gateway does not implement (501). Empty list elements are ignored.
                transferEncodings += 1
                var codings = 0
                var chunkedCount = 0
                var chunkedLast = false
                Bytes.forEachListElement(pointer, start, end) { codingStart, codingEnd in
                    codings += 1
                    chunkedLast = Bytes.equalsLowercase(pointer + codingStart, codingEnd - codingStart, "chunked")
                    if chunkedLast { chunkedCount += 1 }
                }
                guard transferEncodings == 1, chunkedLast, chunkedCount == 1 else {
                    return HTTPParseError(400, "Transfer-Encoding does not end in chunked")
                }
                guard codings == 1 else { return HTTPParseError(501, "unsupported transfer coding") }
            case .host:
                hosts += 1
                guard Self.isValidAuthority(pointer, start, end) else { return HTTPParseError(400, "invalid Host") }
                // RFC 9112 §3.2.2: with an absolute-form target, the target's authority is the host.
                if !head.isAbsoluteForm { head.authorityRange = start..<end }
            case .connection:
                connection.add(pointer, start, end)
            case .expect where head.minorVersion == 0:
                // RFC 9110 §10.1.1: a 100-continue expectation in HTTP/1.0 is ignored.
                break
            case .expect:
                guard Bytes.equalsLowercase(pointer + start, end - start, "100-continue") else {
                    return HTTPParseError(417, "unsupported expectation")
                }
                head.expectContinue = true
            case .upgrade:
                upgradeField = Bytes.equalsLowercase(pointer + start, end - start, "websocket")
            case .secWebSocketKey:
                webSocketKey = end > start
            case .secWebSocketVersion:
                webSocketVersion = end > start
            case .xRequestID:
                if head.requestIDRange == nil && end > start && end - start <= 128
                    && (start..<end).allSatisfy({ pointer[$0] > 0x20 && pointer[$0] < 0x7F }) {
                    head.requestIDRange = start..<end
                }
            default:
                break
            }
        }
        if transferEncodings > 0 && contentLength >= 0 { return HTTPParseError(400, "both Content-Length and Transfer-Encoding") }
        if transferEncodings > 0 && head.minorVersion == 0 { return HTTPParseError(400, "Transfer-Encoding in HTTP/1.0") }
        if hosts > 1 { return HTTPParseError(400, "repeated Host") }
        if hosts == 0 && head.minorVersion == 1 { return HTTPParseError(400, "missing Host") }
        if connection.namesOtherFields { FieldLines.markConnectionOptions(pointer, in: &head.fields) }
        head.bodyFraming = transferEncodings > 0 ? .chunked : (contentLength > 0 ? .length(contentLength) : .none)
        head.keepAlive = !connection.close && (head.minorVersion == 1 || connection.keepAlive)
        // Only a WebSocket handshake as RFC 6455 §4.1 requires it is ever upgraded; any other
        // token (h2c above all) loses its Upgrade field and is served as plain HTTP/1.1.
        head.isUpgrade = connection.upgrade && upgradeField && webSocketKey && webSocketVersion
            && head.method == .get && head.minorVersion == 1
        if head.bodyFraming == .none { head.expectContinue = false }
        return nil
    }
}
