import Glibc

/// The blocklist file: one entry a line, `[allow] <address or CIDR> [expires=<time>] [# reason]`,
/// blank lines and `# comments` ignored. `<time>` is RFC 3339 UTC (`2026-12-01T00:00:00Z`) or
/// epoch seconds. Parsed at byte level: a million lines load in well under a second.
enum BlocklistFile {
    /// A line that could not be read.
    struct LineError: Error, CustomStringConvertible {
        let line: Int
        let message: String
        var description: String { "line \(line): \(message)" }
    }

    /// Parses the whole file; every bad line is reported.
    static func parse(_ bytes: [UInt8]) -> (entries: [BlocklistEntry], errors: [LineError]) {
        var entries: [BlocklistEntry] = []
        let errors = parse(bytes) { entries.append($0) }
        return (entries, errors)
    }

    /// Parses the whole file, handing each entry to `each` as it is read (no list of a million
    /// entries in between); returns every bad line.
    static func parse(_ bytes: [UInt8], each: (BlocklistEntry) -> Void) -> [LineError] {
        var errors: [LineError] = []
        var lineNumber = 0
        var start = 0
        bytes.withUnsafeBufferPointer { buffer in
            while start < buffer.count {
                lineNumber += 1
                var end = start
                while end < buffer.count && buffer[end] != ASCII.lf { end += 1 }
                let line = UnsafeBufferPointer(rebasing: buffer[start..<end])
                switch parseLine(line) {
                case .entry(let entry): each(entry)
                case .blank: break
                case .invalid(let message): errors.append(LineError(line: lineNumber, message: message))
                }
                start = end + 1
            }
        }
        return errors
    }

    private enum LineResult {
        case entry(BlocklistEntry)
        case blank
        case invalid(String)
    }

    private static func parseLine(_ line: UnsafeBufferPointer<UInt8>) -> LineResult {
        var content = line
        var reason = ""
        if let hash = line.firstIndex(of: UInt8(ascii: "#")) {
            content = UnsafeBufferPointer(rebasing: line[0..<hash])
            reason = String(decoding: line[(hash + 1)...], as: UTF8.self).trimmingSpaces
        }
        var words = content.split(whereSeparator: { $0 == ASCII.space || $0 == ASCII.tab || $0 == ASCII.cr })
        guard !words.isEmpty else { return .blank }
        var allow = false
        if words[0].elementsEqual("allow".utf8) {
            allow = true
            words.removeFirst()
        }
        guard let first = words.first else { return .invalid("\"allow\" needs an address or CIDR") }
        let cidr: CIDR
        switch CIDR.parse(String(decoding: first, as: UTF8.self)) {
        case .success(let parsed): cidr = parsed
        case .failure(let problem): return .invalid(problem.description)
        }
        var expiresAt: UInt32 = 0
        for word in words.dropFirst() {
            let text = String(decoding: word, as: UTF8.self)
            guard text.hasPrefix("expires="), let time = parseTime(String(text.dropFirst(8))) else {
                return .invalid("unexpected \"\(text)\" (expected expires=<RFC 3339 UTC time or epoch seconds>)")
            }
            expiresAt = time
        }
        return .entry(BlocklistEntry(cidr: cidr, allow: allow, expiresAt: expiresAt, reason: reason))
    }

    /// `2026-12-01T00:00:00Z` or epoch seconds.
    static func parseTime(_ text: String) -> UInt32? {
        if let seconds = UInt32(text) { return seconds }
        let bytes = Array(text.utf8)
        guard bytes.count == 20, bytes[4] == 45, bytes[7] == 45, bytes[10] == 84, bytes[13] == 58, bytes[16] == 58,
              bytes[19] == 90 else { return nil }
        func number(_ range: Range<Int>) -> Int32? {
            bytes[range].allSatisfy { $0 >= ASCII.zero && $0 <= ASCII.nine } ? Int32(String(decoding: bytes[range], as: UTF8.self)) : nil
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
              let minute = number(14..<16), let second = number(17..<19), (1...12).contains(month), (1...31).contains(day),
              hour < 24, minute < 60, second < 61 else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        let seconds = timegm(&parts)
        return seconds > 0 && seconds < Int(UInt32.max) ? UInt32(seconds) : nil
    }

    static let header = """
        # Portcullis blocklist: one entry a line, [allow] <address or CIDR> [expires=<RFC 3339 UTC>] [# reason]
        # "allow" entries override every block (monitoring, office ranges). Expired entries are ignored.
        # The gateway rewrites this file when the blocklist changes through the admin API.

        """

    /// The file's text for these entries.
    static func render(_ entries: [BlocklistEntry]) -> [UInt8] {
        var out: [UInt8] = Array(header.utf8)
        out.reserveCapacity(out.count + entries.count * 24)
        for entry in entries {
            if entry.allow { out.append(contentsOf: "allow ".utf8) }
            out.append(contentsOf: entry.cidr.description.utf8)
            if entry.expiresAt != 0 { out.append(contentsOf: " expires=\(UTCTime.rfc3339(Int64(entry.expiresAt)))".utf8) }
            if !entry.reason.isEmpty { out.append(contentsOf: " # \(entry.reason)".utf8) }
            out.append(ASCII.lf)
        }
        return out
    }
}

/// Writes a file so that a crash leaves either the old or the new content: a temporary file in
/// the same directory, `fsync`, `rename`, then `fsync` of the directory.
enum AtomicFile {
    static func write(_ bytes: [UInt8], to path: String) throws(SystemError) {
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let temporary = "\(path).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SystemError("open \(temporary)") }
        do {
            try FileIO.writeAll(fd, bytes, name: temporary)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        guard fsync(fd) == 0 else {
            let failure = SystemError("fsync \(temporary)")
            close(fd)
            unlink(temporary)
            throw failure
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let failure = SystemError("rename \(temporary) to \(path)")
            unlink(temporary)
            throw failure
        }
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }
}
