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

    /// 16-byte key name, 32-byte HMAC key, 32-byte AES key.
    private let key = Locked<[UInt8]>(TicketKeyRing.randomKey())

    private static func randomKey() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 80)
        RAND_bytes(&bytes, 80)
        return bytes
    }

    /// Makes a new key; contexts built from now on use it.
    public func rotate() {
        key.withLock { $0 = Self.randomKey() }
    }

    /// Gives a context the current key.
    func install(on context: OpaquePointer) {
        var bytes = key.withLock { $0 }
        _ = cshims_ssl_ctx_set_ticket_keys(context, &bytes)
    }
}
