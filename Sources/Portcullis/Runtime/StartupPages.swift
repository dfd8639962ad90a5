import Glibc

/// Gives back the code pages start-up touched and serving does not, as the Linux kernel frees
/// its `__init` sections after boot. Loading the configuration, the certificates and the
/// blocklist runs code (the TOML and PEM parsers, Foundation, the argument parser, OpenSSL's
/// provider set-up) that a running gateway never calls again; its pages, and the 64 KB the
/// kernel maps around each page faulted, stay resident: 8 MB of the binary's code where serving
/// uses under 1 MB. `release()` unmaps every read-only, file-backed mapping of the process from
/// its page tables (`MADV_DONTNEED`): the code stays in the page cache, and the pages serving
/// runs come back on first use with a minor fault each.
///
/// Only mappings that cannot hold anything but the file's bytes are touched: not writable (no
/// thread can change a page between the check and the call) and with no private copy of any
/// page (`Anonymous: 0 kB` in `/proc/self/smaps`: a read-only page written once, like the
/// relocated pointers of `.data.rel.ro`, would otherwise be read back unrelocated).
enum StartupPages {
    /// What one call released.
    struct Released {
        /// Resident bytes unmapped.
        var bytes = 0
        /// Mappings they were in.
        var mappings = 0
    }

    /// One mapping from `/proc/self/smaps`: its range, whether it qualifies, how much is resident.
    private struct Mapping {
        var start = 0
        var end = 0
        var readOnlyFile = false
        var resident = 0
        var anonymous = 0
    }

    /// Unmaps the resident pages of every read-only, file-backed, unmodified mapping.
    static func release() throws(SystemError) -> Released {
        var released = Released()
        for mapping in try mappings() where mapping.readOnlyFile && mapping.anonymous == 0 && mapping.resident > 0 {
            guard madvise(UnsafeMutableRawPointer(bitPattern: mapping.start), mapping.end - mapping.start, MADV_DONTNEED) == 0 else {
                throw SystemError("madvise")
            }
            released.bytes += mapping.resident
            released.mappings += 1
        }
        return released
    }

    /// The process' mappings, read from `/proc/self/smaps`.
    private static func mappings() throws(SystemError) -> [Mapping] {
        let text = try FileIO.readAll(path: "/proc/self/smaps")
        var mappings: [Mapping] = []
        // Each mapping is a header line ("start-end perms offset device inode [path]", starting
        // with a lowercase hex digit) followed by "Name:  value kB" lines; only two are read.
        for line in text.split(separator: UInt8(ascii: "\n")) {
            if line.starts(with: "Rss:".utf8), !mappings.isEmpty {
                mappings[mappings.count - 1].resident = kibibytes(line) * 1024
            } else if line.starts(with: "Anonymous:".utf8), !mappings.isEmpty {
                mappings[mappings.count - 1].anonymous = kibibytes(line) * 1024
            } else if let first = line.first, (48...57).contains(first) || (97...102).contains(first) {
                let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 5)
                guard fields.count >= 5, let dash = fields[0].firstIndex(of: UInt8(ascii: "-")),
                      let start = hex(fields[0][..<dash]), let end = hex(fields[0][(dash + 1)...]) else { continue }
                let perms = fields[1]
                let readOnlyFile = perms.count == 4 && perms[perms.startIndex + 1] == UInt8(ascii: "-")
                    && perms[perms.startIndex + 3] == UInt8(ascii: "p") && !fields[4].elementsEqual("0".utf8)
                mappings.append(Mapping(start: start, end: end, readOnlyFile: readOnlyFile))
            }
        }
        return mappings
    }

    private static func hex(_ digits: ArraySlice<UInt8>) -> Int? {
        var value = 0
        for digit in digits {
            guard let nibble = Bytes.hexValue(digit) else { return nil }
            value = value << 4 | Int(nibble)
        }
        return digits.isEmpty ? nil : value
    }

    /// The number in a "Name:   1234 kB" line.
    private static func kibibytes(_ line: ArraySlice<UInt8>) -> Int {
        var value = 0
        for byte in line where byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") { value = value * 10 + Int(byte - UInt8(ascii: "0")) }
        return value
    }
}
