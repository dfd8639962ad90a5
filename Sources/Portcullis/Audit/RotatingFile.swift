import Glibc
import Logging

/// An append-only file rotated by size: past `maxSize` the file becomes `<path>.1`, the older
/// ones move up to `<path>.<maxFiles>` and the oldest is deleted. Written by the control thread
/// only.
final class RotatingFile {
    let path: String
    private let maxSize: Int64
    private let maxFiles: Int
    private var fd: Int32 = -1
    private var size: Int64 = 0

    init(path: String, maxSize: Int64, maxFiles: Int) throws(SystemError) {
        self.path = path
        self.maxSize = maxSize
        self.maxFiles = maxFiles
        try open()
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    private func open() throws(SystemError) {
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            // The directory is created when missing (a fresh checkout has no logs/).
            let directory = String(path[..<slash])
            if mkdir(directory, 0o750) != 0 && errno != EEXIST { throw SystemError("mkdir \(directory)") }
        }
        fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw SystemError("open \(path)") }
        var info = stat()
        size = fstat(fd, &info) == 0 ? Int64(info.st_size) : 0
    }

    /// Appends bytes (whole lines), rotating first when they would pass the size limit.
    private func write(_ bytes: [UInt8]) throws(SystemError) {
        if size > 0 && size + Int64(bytes.count) > maxSize { try rotate() }
        try FileIO.writeAll(fd, bytes, name: path)
        size += Int64(bytes.count)
    }

    /// Appends, logging a failure once per run of failures (a full disk must not flood the log);
    /// the lines of a failed write are lost.
    func append(_ bytes: [UInt8], log: Logger, what: String) {
        do {
            try write(bytes)
            failing = false
        } catch {
            if !failing { log.error("\(what): cannot write \(path): \(error)") }
            failing = true
        }
    }

    private var failing = false

    private func rotate() throws(SystemError) {
        close(fd)
        fd = -1
        unlink("\(path).\(maxFiles)")
        for index in stride(from: maxFiles - 1, through: 1, by: -1) {
            rename("\(path).\(index)", "\(path).\(index + 1)")
        }
        rename(path, "\(path).1")
        try open()
    }
}
