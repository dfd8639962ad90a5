import COpenSSL
import Synchronization

/// The keys that encrypt TLS session tickets, one ring for the whole process: every worker and
/// every certificate context uses it, so a ticket issued by one worker resumes on another and
/// survives certificate reloads. The control thread rotates it; the newest key encrypts, the
/// previous ones still decrypt (and get the ticket renewed), older tickets fall back to a full
/// handshake.
public final class TicketKeyRing: Sendable {
    /// One key: a 16-byte name sent in the ticket, an AES-256 key and an HMAC-SHA256 key.
    struct Key {
        var name = [UInt8](repeating: 0, count: 16)
        var cipherKey = [UInt8](repeating: 0, count: 32)
        var macKey = [UInt8](repeating: 0, count: 32)

        static func random() -> Key {
            var key = Key()
            RAND_bytes(&key.name, 16)
            RAND_bytes(&key.cipherKey, 32)
            RAND_bytes(&key.macKey, 32)
            return key
        }
    }

    /// How many keys are kept: the current one and the ones before it that still decrypt.
    static let keysKept = 3
    /// The ring every context uses.
    public static let shared = TicketKeyRing()

    private let keys = Mutex<[Key]>([Key.random()])

    /// Makes a new current key; the oldest beyond `keysKept` is forgotten.
    public func rotate() {
        keys.withLock { ring in
            ring.insert(Key.random(), at: 0)
            if ring.count > Self.keysKept { ring.removeLast(ring.count - Self.keysKept) }
        }
    }

    /// Installs the ring's callback on a context.
    func install(on context: OpaquePointer) {
        _ = SSL_CTX_set_tlsext_ticket_key_evp_cb(context) { _, name, iv, cipher, mac, encrypt in
            guard let name, let iv, let cipher, let mac else { return -1 }
            return TicketKeyRing.shared.handle(name: name, iv: iv, cipher: cipher, mac: mac, encrypt: encrypt == 1)
        }
    }

    /// A NUL-terminated C string in static storage.
    private static func cString(_ text: StaticString) -> UnsafePointer<CChar> {
        UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
    }

    /// OpenSSL's ticket callback: 1 = use this key, 2 = decrypted with an old key (renew the
    /// ticket), 0 = unknown key (full handshake), -1 = error.
    private func handle(name: UnsafeMutablePointer<UInt8>, iv: UnsafeMutablePointer<UInt8>, cipher: OpaquePointer,
                        mac: OpaquePointer, encrypt: Bool) -> Int32 {
        let ring = keys.withLock { $0 }
        let key: Key
        let position: Int
        if encrypt {
            key = ring[0]
            position = 0
            key.name.withUnsafeBufferPointer { name.update(from: $0.baseAddress!, count: 16) }
            guard RAND_bytes(iv, 16) == 1,
                  EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nil, key.cipherKey, iv) == 1 else { return -1 }
        } else {
            guard let found = ring.firstIndex(where: { candidate in
                candidate.name.withUnsafeBufferPointer { memcmp($0.baseAddress!, name, 16) == 0 }
            }) else { return 0 }
            key = ring[found]
            position = found
            guard EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nil, key.cipherKey, iv) == 1 else { return -1 }
        }
        // OSSL_PARAM keeps the pointers it is given: names and values must outlive the call,
        // hence static strings rather than Swift string temporaries.
        var macKey = key.macKey
        let configured = macKey.withUnsafeMutableBytes { keyBytes in
            var parameters = [
                OSSL_PARAM_construct_octet_string(Self.cString("key"), keyBytes.baseAddress, keyBytes.count),
                OSSL_PARAM_construct_utf8_string(Self.cString("digest"), UnsafeMutablePointer(mutating: Self.cString("SHA256")), 0),
                OSSL_PARAM_construct_end(),
            ]
            return EVP_MAC_CTX_set_params(mac, &parameters)
        }
        guard configured == 1 else { return -1 }
        return position == 0 ? 1 : 2
    }
}
