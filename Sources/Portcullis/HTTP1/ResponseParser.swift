import Glibc

/// A parsed upstream response head: offsets into the upstream connection's input buffer.
public struct ResponseHead {
    public var status = 0
    /// The reason phrase (may be empty).
    public var reasonRange: Range<Int> = 0..<0
    public var minorVersion = 1
    public var fields: [HeaderField] = []
    public var headLength = 0
    public var bodyFraming: BodyFraming = .none
    /// The upstream allows reusing its connection after this response.
    public var keepAlive = true
    /// Content-Length as sent (also meaningful for HEAD responses, whose body is absent).
    public var contentLength: Int64 = -1

    public init() {
        fields.reserveCapacity(HeaderField.initialCapacity)
    }

    /// An informational (1xx) response other than 101: another head follows.
    public var isInterim: Bool { status >= 100 && status < 200 && status != 101 }
}

/// Parses upstream response heads (RFC 9112 §4 and §6.3). A malformed response becomes a 502 for
/// the client, never a guess.
public struct ResponseParser {
    /// Largest accepted response head.
    public var maxHeadBytes: Int

    public init(maxHeadBytes: Int = 65536) {
        self.maxHeadBytes = maxHeadBytes
    }

    /// Parses the head at the start of `bytes`; `requestMethod` decides whether a body follows.
    public func parse(_ bytes: UnsafeBufferPointer<UInt8>, requestMethod: HTTPMethod, into head: inout ResponseHead) -> RequestParser.Outcome {
        guard let pointer = bytes.baseAddress, bytes.count > 0 else { return .incomplete }
        let count = bytes.count
        guard let lineFeed = Bytes.find(ASCII.lf, pointer, from: 0, to: min(count, 8192)) else {
            return count >= 8192 ? .failed(HTTPParseError(502, "status line too long")) : .incomplete
        }
        guard lineFeed >= 13, pointer[lineFeed - 1] == ASCII.cr, memcmp(pointer, "HTTP/1.", 7) == 0,
              pointer[7] >= ASCII.zero, pointer[7] <= ASCII.nine, pointer[8] == ASCII.space else {
            return .failed(HTTPParseError(502, "malformed status line"))
        }
        guard let status = Bytes.decimal(pointer + 9, 3), status >= 100, status <= 599,
              lineFeed == 13 || pointer[12] == ASCII.space else {
            return .failed(HTTPParseError(502, "malformed status code"))
        }
        // `HTTP/1.1 200\r\n` (no reason, not even its space) ends the line at 13: the range of the
        // reason is then empty, not reversed (a reversed range trapped: found by fuzzing).
        for index in 13..<max(13, lineFeed - 1) where ByteClass.table[Int(pointer[index])] & ByteClass.fieldValue == 0 {
            return .failed(HTTPParseError(502, "invalid byte in reason phrase"))
        }
        head.fields.removeAll(keepingCapacity: true)
        head.status = Int(status)
        head.minorVersion = pointer[7] == ASCII.zero ? 0 : 1
        head.reasonRange = min(13, lineFeed - 1)..<(lineFeed - 1)
        switch FieldLines.parse(pointer, from: lineFeed + 1, count: count, maxBytes: maxHeadBytes, maxCount: 1000, into: &head.fields) {
        case .complete(let headLength): head.headLength = headLength
        case .incomplete: return count > maxHeadBytes ? .failed(HTTPParseError(502, "response head too large")) : .incomplete
        case .failed(let failure): return .failed(HTTPParseError(502, failure.reason))
        }
        return interpretFields(pointer, requestMethod: requestMethod, into: &head)
    }

    private func interpretFields(_ pointer: UnsafePointer<UInt8>, requestMethod: HTTPMethod, into head: inout ResponseHead) -> RequestParser.Outcome {
        var contentLength: Int64 = -1
        var chunked = false
        var otherCoding = false
        var connection = ConnectionOptions()
        for field in head.fields {
            let start = Int(field.valueStart)
            let end = Int(field.valueEnd)
            switch field.kind {
            case .contentLength:
                guard Bytes.mergeContentLength(pointer, start, end, into: &contentLength) else {
                    return .failed(HTTPParseError(502, "invalid or conflicting Content-Length"))
                }
            case .transferEncoding:
                Bytes.forEachListElement(pointer, start, end) { codingStart, codingEnd in
                    if Bytes.equalsLowercase(pointer + codingStart, codingEnd - codingStart, "chunked") {
                        chunked = true
                    } else {
                        otherCoding = true
                    }
                }
            case .connection:
                connection.add(pointer, start, end)
            default:
                break
            }
        }
        if connection.namesOtherFields { FieldLines.markConnectionOptions(pointer, in: &head.fields) }
        head.contentLength = contentLength
        head.keepAlive = !connection.close && (head.minorVersion == 1 || connection.keepAlive)
        let status = head.status
        if requestMethod == .head || status < 200 || status == 204 || status == 304 {
            head.bodyFraming = .none
        } else if otherCoding {
            // A transfer coding we would have to pass on undecoded: refuse rather than mislabel.
            return .failed(HTTPParseError(502, "unsupported transfer coding"))
        } else if chunked {
            head.bodyFraming = .chunked
            // Transfer-Encoding overrides Content-Length (RFC 9112 §6.3); do not reuse such a connection.
            if contentLength >= 0 { head.keepAlive = false }
        } else if contentLength >= 0 {
            head.bodyFraming = .length(contentLength)
        } else {
            head.bodyFraming = .untilClose
            head.keepAlive = false
        }
        return .complete
    }
}
