import CShims
import Foundation
import Glibc

/// One message between a gateway being replaced by a new binary and its successor (JSON, with
/// descriptors attached to `sockets` messages).
///
/// Old → new: `sockets` (a key per attached listening socket, in order; several messages when
/// there are many), `state` (the session-ticket key and its age), one `challenge` per pushed
/// ACME token, the local rate-limit counters (`counters`, in batches), then `end`. New → old: `ready` once it serves, or `failed` with the reason.
struct UpgradeMessage: Codable, Equatable {
    enum Kind: String, Codable { case sockets, state, challenge, counters, end, ready, failed }

    var kind: Kind
    /// `sockets`: which listener each attached descriptor belongs to (`Gateway.handoverKeys`).
    var keys: [String]?
    /// `state`: the 80-byte ticket key, and how long ago it was made.
    var ticketKey: [UInt8]?
    var ticketKeyAgeMilliseconds: UInt64?
    /// `challenge`: a pushed token, its key authorization and what is left of its TTL.
    var token: String?
    var keyAuthorization: String?
    var remainingMilliseconds: UInt64?
    /// `counters`: local rate-limit counters (at most `countersPerMessage`).
    var counters: [RateLimitTable.CarriedCounter]?
    /// `ready`: the new process' pid. `failed`: why it could not start.
    var pid: Int32?
    var reason: String?

    init(_ kind: Kind) { self.kind = kind }
}

/// The Unix socket (`SOCK_SEQPACKET`: reliable, and each send is read as one message) a gateway
/// and the binary replacing it talk over. It does not own the descriptor.
struct UpgradeChannel {
    let fd: Int32

    /// The most counters in one message (well under `largestMessage` as JSON).
    static let countersPerMessage = 256
    /// The most descriptors attached to one message.
    static let descriptorsPerMessage = Int(CSHIMS_MAX_PASSED_DESCRIPTORS)
    private static let largestMessage = 64 * 1024

    /// A connected pair: this process' end and the one to hand to the child.
    static func pair() throws(SystemError) -> (mine: Int32, theirs: Int32) {
        var ends: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else {
            throw SystemError("socketpair")
        }
        return (ends[0], ends[1])
    }

    func send(_ message: UpgradeMessage, descriptors: [Int32] = []) throws(SystemError) {
        let bytes = (try? JSONEncoder().encode(message)).map(Array.init) ?? []
        let sent = descriptors.withUnsafeBufferPointer { fds in
            bytes.withUnsafeBytes { cshims_send_with_descriptors(fd, $0.baseAddress, $0.count, fds.baseAddress, Int32(fds.count)) }
        }
        guard sent == bytes.count else { throw SystemError("send \(message.kind.rawValue) to the new process") }
    }

    /// What one read found.
    enum Received {
        case message(UpgradeMessage, descriptors: [Int32])
        /// Nothing yet (non-blocking end), or the receive timeout passed (blocking end).
        case nothing
        /// The other process closed its end (it exited).
        case closed
    }

    /// Reads one message; a message that cannot be decoded, or whose descriptors were cut, is an
    /// error (its descriptors are closed).
    func receive() throws(SystemError) -> Received {
        var bytes = [UInt8](repeating: 0, count: Self.largestMessage)
        var descriptors = [Int32](repeating: -1, count: Self.descriptorsPerMessage)
        var count: Int32 = 0
        var truncated: Int32 = 0
        let received = cshims_receive_with_descriptors(fd, &bytes, bytes.count, &descriptors, &count, &truncated)
        if received < 0 {
            if errno == EAGAIN || errno == EINTR { return .nothing }
            // The other process exited with messages of ours still unread.
            if errno == ECONNRESET { return .closed }
            throw SystemError("receive from the upgrade channel")
        }
        let attached = Array(descriptors.prefix(Int(count)))
        if received == 0 && attached.isEmpty { return .closed }
        guard truncated == 0, let message = try? JSONDecoder().decode(UpgradeMessage.self, from: Data(bytes[0..<received])) else {
            attached.forEach { close($0) }
            throw SystemError("an unreadable message on the upgrade channel", code: EBADMSG)
        }
        return .message(message, descriptors: attached)
    }

    /// Bounds how long a blocking `send`/`receive` waits (`.nothing` when it passes).
    func setTimeouts(seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }
}
