/// Whether a response is compressed: the client accepts gzip (q-values honoured), the response
/// is not already encoded, not a range, allows transformation, has a body, its type is listed
/// and its length is unknown or at least `min_length`. Runs for every request and response, so
/// it reads bytes in place and allocates nothing.
enum GzipDecision {
    /// Reads the request's `Accept-Encoding` values: gzip is acceptable when listed with q > 0,
    /// or covered by `*` with q > 0 and not listed itself.
    static func clientAccepts(_ head: RequestHead, source: UnsafePointer<UInt8>) -> Bool {
        var gzipQuality = -1
        var anyQuality = -1
        for field in head.fields where Bytes.equalsLowercase(source + Int(field.nameStart), Int(field.nameEnd - field.nameStart), "accept-encoding") {
            var itemStart = Int(field.valueStart)
            let end = Int(field.valueEnd)
            while itemStart < end {
                var itemEnd = itemStart
                while itemEnd < end && source[itemEnd] != ASCII.comma { itemEnd += 1 }
                let (coding, quality) = codingAndQuality(source, itemStart, itemEnd)
                if Bytes.equalsLowercase(source + coding.lowerBound, coding.count, "gzip")
                    || Bytes.equalsLowercase(source + coding.lowerBound, coding.count, "x-gzip") {
                    gzipQuality = max(gzipQuality, quality)
                } else if coding.count == 1 && source[coding.lowerBound] == UInt8(ascii: "*") {
                    anyQuality = quality
                }
                itemStart = itemEnd + 1
            }
        }
        return gzipQuality >= 0 ? gzipQuality > 0 : anyQuality > 0
    }

    /// One `coding;q=0.5` item: the coding's byte range and its quality in thousandths (1000
    /// without `q`, 0 for a malformed one).
    private static func codingAndQuality(_ source: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> (Range<Int>, Int) {
        var codingStart = start
        while codingStart < end && (source[codingStart] == ASCII.space || source[codingStart] == ASCII.tab) { codingStart += 1 }
        var codingEnd = codingStart
        while codingEnd < end && source[codingEnd] != ASCII.semicolon && source[codingEnd] != ASCII.space && source[codingEnd] != ASCII.tab {
            codingEnd += 1
        }
        var quality = 1000
        var index = codingEnd
        while index < end {
            guard source[index] == ASCII.semicolon else {
                index += 1
                continue
            }
            index += 1
            while index < end && (source[index] == ASCII.space || source[index] == ASCII.tab) { index += 1 }
            if index + 1 < end && source[index] | 0x20 == UInt8(ascii: "q") && source[index + 1] == ASCII.equals {
                quality = parseQuality(source, index + 2, end)
            }
        }
        return (codingStart..<codingEnd, quality)
    }

    /// `qvalue` (RFC 9110 §12.4.2): `0`, `0.5`, `1`, `1.000` → thousandths; malformed → 0.
    private static func parseQuality(_ source: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Int {
        guard start < end, source[start] == ASCII.zero || source[start] == ASCII.zero + 1 else { return 0 }
        var value = Int(source[start] - ASCII.zero) * 1000
        var index = start + 1
        if index < end && source[index] == ASCII.dot {
            index += 1
            var scale = 100
            while index < end && scale > 0, source[index] >= ASCII.zero && source[index] <= ASCII.nine {
                value += Int(source[index] - ASCII.zero) * scale
                scale /= 10
                index += 1
            }
        }
        return min(value, 1000)
    }

    /// Whether this response qualifies; `mediaTypes` are the configured types as lower-case bytes.
    static func compresses(_ head: ResponseHead, source: UnsafePointer<UInt8>, requestMethod: HTTPMethod, settings: GzipSettings,
                           mediaTypes: [[UInt8]]) -> Bool {
        guard settings.enabled, requestMethod != .head, head.status >= 200, head.status != 204, head.status != 206, head.status != 304 else {
            return false
        }
        switch head.bodyFraming {
        case .none: return false
        // An empty body has nothing to compress (and no body state that would end a gzip framing).
        case .length(let length): if length == 0 || length < settings.minLength { return false }
        case .chunked, .untilClose: break
        }
        var typeListed = false
        for field in head.fields {
            let name = source + Int(field.nameStart)
            let nameCount = Int(field.nameEnd - field.nameStart)
            let value = source + Int(field.valueStart)
            let valueCount = Int(field.valueEnd - field.valueStart)
            if Bytes.equalsLowercase(name, nameCount, "content-encoding") || Bytes.equalsLowercase(name, nameCount, "content-range") {
                return false
            }
            if Bytes.equalsLowercase(name, nameCount, "cache-control") && Bytes.containsLowercase(value, valueCount, "no-transform") {
                return false
            }
            if Bytes.equalsLowercase(name, nameCount, "content-type") {
                var typeCount = 0
                while typeCount < valueCount && value[typeCount] != ASCII.semicolon { typeCount += 1 }
                while typeCount > 0 && (value[typeCount - 1] == ASCII.space || value[typeCount - 1] == ASCII.tab) { typeCount -= 1 }
                typeListed = mediaTypes.contains { Bytes.equalsLowercase(value, typeCount, $0) }
            }
        }
        return typeListed
    }
}
