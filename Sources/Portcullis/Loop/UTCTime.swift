import Glibc

/// Wall-clock times as text, in UTC, for files and logs (never on the request path).
enum UTCTime {
    /// `seconds` since the epoch formatted with a `strftime` pattern.
    static func format(_ seconds: Int64, _ pattern: String) -> String {
        var value = time_t(seconds)
        var parts = tm()
        gmtime_r(&value, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        strftime(&buffer, buffer.count, pattern, &parts)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// RFC 3339: `2026-12-01T00:00:00Z`.
    static func rfc3339(_ seconds: Int64) -> String { format(seconds, "%Y-%m-%dT%H:%M:%SZ") }

    /// RFC 3339 with milliseconds: `2026-11-23T03:04:05.678Z`.
    static func rfc3339(milliseconds: Int64) -> String {
        let fraction = milliseconds % 1000
        return format(milliseconds / 1000, "%Y-%m-%dT%H:%M:%S.") + (fraction < 100 ? (fraction < 10 ? "00" : "0") : "") + String(fraction) + "Z"
    }
}
