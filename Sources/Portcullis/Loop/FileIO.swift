import Glibc

/// Blocking whole-file reads and writes for the control thread's files (blocklist, ACME
/// webroot, audit log, access log); never used on a worker.
enum FileIO {
    /// Writes every byte, retrying after interruptions and short writes.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], name: String) throws(SystemError) {
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { throw SystemError("write \(name)") }
            written += result
        }
    }

    /// Opens `path`, reads it whole (`readAll`) and closes it.
    static func readAll(path: String) throws(SystemError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open \(path)") }
        defer { close(fd) }
        return try readAll(fd, name: path)
    }

    /// Reads an open file to its end into one buffer of its size (a blocklist can be tens of MB);
    /// files that report no size (`/proc`) are read in growing chunks.
    static func readAll(_ fd: Int32, name: String) throws(SystemError) -> [UInt8] {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SystemError("stat \(name)") }
        var bytes = [UInt8](repeating: 0, count: max(Int(info.st_size), 4096))
        var filled = 0
        while true {
            if filled == bytes.count {
                guard info.st_size == 0 else { break }
                bytes.append(contentsOf: repeatElement(0, count: bytes.count))
            }
            let count = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw SystemError("read \(name)") }
            if count == 0 { break }
            filled += count
        }
        bytes.removeLast(bytes.count - filled)
        return bytes
    }
}
