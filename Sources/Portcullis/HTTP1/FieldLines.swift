import Glibc

/// Parses the field lines of a message head (RFC 9112 §5), shared by requests and responses.
enum FieldLines {
    /// Outcome of parsing the field section.
    enum Outcome {
        case incomplete
        /// The head ends `headLength` bytes from the start of the buffer.
        case complete(headLength: Int)
        case failed(HTTPParseError)
    }

    /// Parses field lines starting at `fieldsStart` up to and including the blank line.
    static func parse(_ pointer: UnsafePointer<UInt8>, from fieldsStart: Int, count: Int,
                      maxBytes: Int, maxCount: Int, into fields: inout [HeaderField]) -> Outcome {
        var lineStart = fieldsStart
        let lastLineStart = fieldsStart + maxBytes
        while true {
            if lineStart > lastLineStart { return .failed(HTTPParseError(431, "header block too large")) }
            guard lineStart < count else { return .incomplete }
            let first = pointer[lineStart]
            if first == ASCII.cr {
                guard lineStart + 1 < count else { return .incomplete }
                guard pointer[lineStart + 1] == ASCII.lf else { return .failed(HTTPParseError(400, "bare CR")) }
                return .complete(headLength: lineStart + 2)
            }
            if first == ASCII.lf { return .failed(HTTPParseError(400, "bare LF")) }
            if first == ASCII.space || first == ASCII.tab { return .failed(HTTPParseError(400, "obs-fold or leading whitespace")) }
            var index = ByteClass.endOfToken(pointer, from: lineStart, count: count)
            guard index < count else { return .incomplete }
            let nameEnd = index
            guard pointer[index] == ASCII.colon else {
                if pointer[index] == ASCII.space || pointer[index] == ASCII.tab {
                    return .failed(HTTPParseError(400, "whitespace before colon"))
                }
                return .failed(HTTPParseError(400, "invalid field name"))
            }
            guard nameEnd > lineStart else { return .failed(HTTPParseError(400, "empty field name")) }
            // The usual single space after the colon is skipped here rather than trimmed below.
            let afterColon = index + 1 < count && pointer[index + 1] == ASCII.space ? index + 2 : index + 1
            index = ByteClass.endOfFieldValue(pointer, from: afterColon, count: count)
            guard index + 1 < count else { return .incomplete }
            guard pointer[index] == ASCII.cr else {
                if pointer[index] == ASCII.lf { return .failed(HTTPParseError(400, "bare LF")) }
                return .failed(HTTPParseError(400, "invalid byte in field value"))
            }
            guard pointer[index + 1] == ASCII.lf else { return .failed(HTTPParseError(400, "bare CR")) }
            guard fields.count < maxCount else { return .failed(HTTPParseError(431, "too many header fields")) }
            let (valueStart, valueEnd) = Bytes.trimOWS(pointer, afterColon, index)
            fields.append(HeaderField(
                nameStart: Int32(lineStart), nameEnd: Int32(nameEnd),
                valueStart: Int32(valueStart), valueEnd: Int32(valueEnd),
                kind: FieldKind.classify(pointer + lineStart, nameEnd - lineStart)))
            lineStart = index + 2
        }
    }

    /// Marks fields named as `Connection` options (RFC 9110 §7.6.1) as hop-by-hop.
    static func markConnectionOptions(_ pointer: UnsafePointer<UInt8>, in fields: inout [HeaderField]) {
        for connection in fields where connection.kind == .connection {
            Bytes.forEachListElement(pointer, Int(connection.valueStart), Int(connection.valueEnd)) { optionStart, optionEnd in
                for index in fields.indices {
                    let nameLength = Int(fields[index].nameEnd - fields[index].nameStart)
                    guard nameLength == optionEnd - optionStart else { continue }
                    if strncasecmp(pointer + Int(fields[index].nameStart), pointer + optionStart, nameLength) == 0 {
                        fields[index].listedInConnection = true
                    }
                }
            }
        }
    }
}

/// The options of a `Connection` field that the gateway acts on.
struct ConnectionOptions {
    var close = false
    var keepAlive = false
    var upgrade = false
    /// Some other option is present: the fields it names are hop-by-hop.
    var namesOtherFields = false

    /// Adds the options listed in one `Connection` field value.
    mutating func add(_ pointer: UnsafePointer<UInt8>, _ start: Int, _ end: Int) {
        Bytes.forEachListElement(pointer, start, end) { optionStart, optionEnd in
            let option = pointer + optionStart
            let length = optionEnd - optionStart
            if Bytes.equalsLowercase(option, length, "close") {
                close = true
            } else if Bytes.equalsLowercase(option, length, "keep-alive") {
                keepAlive = true
            } else if Bytes.equalsLowercase(option, length, "upgrade") {
                upgrade = true
            } else {
                namesOtherFields = true
            }
        }
    }
}
