import Glibc

/// The `Date` field line (RFC 9110 §6.6.1: a server with a clock sends one in its responses, and
/// a proxy adds one to a forwarded response that lacks it), formatted at most once a second per
/// worker.
final class DateField {
    private var second: UInt32 = 0
    private(set) var line: [UInt8] = []

    /// `Date: Thu, 03 Dec 2026 13:00:00 GMT\r\n` for `epochSeconds`.
    func line(at epochSeconds: UInt32) -> [UInt8] {
        if epochSeconds != second || line.isEmpty {
            second = epochSeconds
            var time = time_t(epochSeconds)
            var parts = tm()
            gmtime_r(&time, &parts)
            var buffer = [CChar](repeating: 0, count: 64)
            let length = strftime(&buffer, buffer.count, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &parts)
            line = buffer[0..<length].map { UInt8(bitPattern: $0) }
        }
        return line
    }
}
