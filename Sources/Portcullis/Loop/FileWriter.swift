import Glibc

/// Blocking writes of whole buffers to files (control-thread files: blocklist, audit log).
enum FileWriter {
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
}
