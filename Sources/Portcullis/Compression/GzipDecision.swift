/// Whether a response is compressed: the client accepts gzip (q-values honoured), the response
/// is not already encoded, not a range, allows transformation, has a body, its type is listed
/// and its length is unknown or at least `min_length`.
enum GzipDecision {
    /// Reads the request's `Accept-Encoding` values: gzip is acceptable when listed with q > 0,
    /// or covered by `*` with q > 0 and not listed itself.
    static func clientAccepts(_ head: RequestHead, source: UnsafePointer<UInt8>) -> Bool {
        var gzipQuality: Double?
        var anyQuality: Double?
        for field in head.fields where Bytes.equalsLowercase(source + Int(field.nameStart), Int(field.nameEnd - field.nameStart), "accept-encoding") {
            let value = String(decoding: UnsafeBufferPointer(start: source + Int(field.valueStart), count: Int(field.valueEnd - field.valueStart)),
                               as: UTF8.self)
            for item in value.split(separator: ",") {
                let parts = item.split(separator: ";").map { $0.trimmingSpaces.lowercased() }
                guard let coding = parts.first, !coding.isEmpty else { continue }
                var quality = 1.0
                for parameter in parts.dropFirst() where parameter.hasPrefix("q=") {
                    quality = Double(parameter.dropFirst(2)) ?? 0
                }
                if coding == "gzip" || coding == "x-gzip" { gzipQuality = max(gzipQuality ?? 0, quality) }
                if coding == "*" { anyQuality = quality }
            }
        }
        if let gzipQuality { return gzipQuality > 0 }
        return (anyQuality ?? 0) > 0
    }

    /// Whether this response qualifies.
    static func compresses(_ head: ResponseHead, source: UnsafePointer<UInt8>, requestMethod: HTTPMethod, settings: GzipSettings) -> Bool {
        guard settings.enabled, requestMethod != .head, head.status >= 200, head.status != 204, head.status != 206, head.status != 304 else {
            return false
        }
        switch head.bodyFraming {
        case .none: return false
        case .length(let length): if length < settings.minLength { return false }
        case .chunked, .untilClose: break
        }
        var typeListed = false
        for field in head.fields {
            let name = source + Int(field.nameStart)
            let nameCount = Int(field.nameEnd - field.nameStart)
            let value = UnsafeBufferPointer(start: source + Int(field.valueStart), count: Int(field.valueEnd - field.valueStart))
            if Bytes.equalsLowercase(name, nameCount, "content-encoding") || Bytes.equalsLowercase(name, nameCount, "content-range") {
                return false
            }
            if Bytes.equalsLowercase(name, nameCount, "cache-control"),
               String(decoding: value, as: UTF8.self).lowercased().contains("no-transform") {
                return false
            }
            if Bytes.equalsLowercase(name, nameCount, "content-type") {
                let mediaType = String(decoding: value.prefix { $0 != ASCII.semicolon }, as: UTF8.self).trimmingSpaces.lowercased()
                typeListed = settings.types.contains(mediaType)
            }
        }
        return typeListed
    }
}
