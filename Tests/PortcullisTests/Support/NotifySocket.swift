import Foundation
import Glibc

/// The receiving end of systemd's notification protocol, as a service manager would hold it:
/// a Unix datagram socket at a temporary path, or in the abstract namespace (`@name`).
final class NotifySocket: @unchecked Sendable {
    private let fd: Int32
    /// What `NOTIFY_SOCKET` is set to.
    let name: String

    init(abstract: Bool = false) throws {
        name = abstract ? "@portcullis-notify-\(UUID().uuidString)"
                        : FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-notify-\(UUID().uuidString)").path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(name.utf8)
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard fd >= 0, bound == 0 else { throw HarnessError("cannot bind the notify socket \(name): \(String(cString: strerror(errno)))") }
    }

    deinit {
        close(fd)
        if name.hasPrefix("/") { unlink(name) }
    }

    /// The next message, or nil when none comes within `seconds`.
    func next(seconds: Double = 10) -> String? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(seconds * 1000)) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(fd, &buffer, buffer.count, 0)
        return count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : nil
    }

    /// Messages until one contains `text` (that one last); nil when it does not come in time.
    func messages(until text: String, seconds: Double = 10) -> [String]? {
        let deadline = Date().addingTimeInterval(seconds)
        var seen: [String] = []
        while let message = next(seconds: max(0, deadline.timeIntervalSinceNow)) {
            seen.append(message)
            if message.contains(text) { return seen }
        }
        return nil
    }
}
