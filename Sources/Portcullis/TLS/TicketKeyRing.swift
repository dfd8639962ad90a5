import COpenSSL
import CShims

/// The key that encrypts TLS session tickets, one for the whole process: every certificate
/// context of every snapshot gets it when built, so a ticket issued by one worker resumes on
/// another and survives certificate reloads. Rotating it makes the control thread rebuild the
/// contexts with the new key; tickets issued before then get a full handshake.
///
/// OpenSSL's built-in ticket path is used rather than a key callback: measured, the callback
/// cost a third of the handshake rate.
public final class TicketKeyRing: Sendable {
    /// The ring every context uses.
    public static let shared = TicketKeyRing()

    /// 16-byte key name, 32-byte HMAC key, 32-byte AES key, and when it was made (monotonic ns).
    private let key = Locked<(bytes: [UInt8], madeAt: UInt64)>((TicketKeyRing.randomKey(), MonotonicClock.now()))
    static let keyLength = 80

    private static func randomKey() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: keyLength)
        RAND_bytes(&bytes, Int32(keyLength))
        return bytes
    }

    /// Makes a new key; contexts built from now on use it.
    public func rotate() {
        key.withLock { $0 = (Self.randomKey(), MonotonicClock.now()) }
    }

    /// The key now in use and its age (ns): what a binary upgrade hands to the new process.
    func current() -> (bytes: [UInt8], age: UInt64) {
        let now = MonotonicClock.now()
        return key.withLock { ($0.bytes, now - min(now, $0.madeAt)) }
    }

    /// Takes over the key of the process this one replaces, so tickets it issued still resume;
    /// false (nothing changes) for a key of the wrong length.
    func adopt(_ bytes: [UInt8], age: UInt64) -> Bool {
        guard bytes.count == Self.keyLength else { return false }
        let now = MonotonicClock.now()
        key.withLock { $0 = (bytes, now - min(now, age)) }
        return true
    }

    /// Gives a context the current key.
    func install(on context: OpaquePointer) {
        var bytes = key.withLock { $0.bytes }
        _ = cshims_ssl_ctx_set_ticket_keys(context, &bytes)
    }
}
