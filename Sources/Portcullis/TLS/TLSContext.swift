import CShims
import COpenSSL
import Foundation
import Glibc

/// One certificate (full chain and key) with its OpenSSL `SSL_CTX`, set up with the gateway's
/// protocol policy. Immutable after loading; OpenSSL allows concurrent handshakes on one context,
/// so every worker shares it (and so session tickets work across workers).
public final class TLSContext: @unchecked Sendable {
    let context: OpaquePointer
    /// DNS names from the certificate's SAN (lower-cased; `*.example.com` kept as written).
    public let names: [String]
    /// End of validity, seconds since the epoch.
    public let notAfter: Int
    /// Serial number in hex, to tell certificates apart in logs and tests.
    public let serial: String
    public let certificatePath: String

    /// Loads and checks a certificate: chain parses, key matches, not expired.
    init(certificatePath: String, keyPath: String, settings: TLSSettings) throws(TLSError) {
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw TLSError("SSL_CTX_new failed") }
        self.context = context
        self.certificatePath = certificatePath
        guard SSL_CTX_use_certificate_chain_file(context, certificatePath) == 1 else {
            SSL_CTX_free(context)
            throw TLSError("cannot load the certificate chain \(certificatePath)")
        }
        guard SSL_CTX_use_PrivateKey_file(context, keyPath, SSL_FILETYPE_PEM) == 1 else {
            SSL_CTX_free(context)
            throw TLSError("the private key \(keyPath) cannot be used with \(certificatePath): it does not match the certificate or is not a PEM key")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            SSL_CTX_free(context)
            throw TLSError("the private key \(keyPath) does not match the certificate \(certificatePath)")
        }
        guard let certificate = SSL_CTX_get0_certificate(context) else {
            SSL_CTX_free(context)
            throw TLSError("no certificate in \(certificatePath)")
        }
        guard X509_cmp_current_time(X509_get0_notAfter(certificate)) > 0 else {
            SSL_CTX_free(context)
            throw TLSError("the certificate \(certificatePath) has expired")
        }
        names = CertificateInspector.dnsNames(certificate)
        notAfter = CertificateInspector.notAfter(certificate)
        serial = CertificateInspector.serial(certificate)
        do {
            try Self.apply(settings, to: context)
        } catch {
            SSL_CTX_free(context)
            throw error
        }
    }

    deinit {
        SSL_CTX_free(context)
    }

    /// Versions, ciphers, groups, modes and ALPN: the same policy on every context.
    private static func apply(_ settings: TLSSettings, to context: OpaquePointer) throws(TLSError) {
        _ = SSL_CTX_set_options(context, cshims_ssl_default_server_options())
        _ = cshims_ssl_ctx_set_min_proto_version(context, settings.minimumVersion == .tls13 ? cshims_tls1_3_version() : cshims_tls1_2_version())
        _ = cshims_ssl_ctx_set_max_proto_version(context, cshims_tls1_3_version())
        guard SSL_CTX_set_cipher_list(context, settings.ciphers) == 1 else { throw TLSError("invalid tls.ciphers") }
        guard SSL_CTX_set_ciphersuites(context, settings.cipherSuites) == 1 else { throw TLSError("invalid tls.ciphersuites") }
        guard cshims_ssl_ctx_set1_groups_list(context, settings.groups) == 1 else { throw TLSError("invalid tls.groups") }
        _ = cshims_ssl_ctx_set_mode(context, cshims_ssl_partial_write_modes())
        cshims_ssl_ctx_set_read_ahead(context, 1)
        let sessionContext: [UInt8] = Array("portcullis".utf8)
        _ = SSL_CTX_set_session_id_context(context, sessionContext, UInt32(sessionContext.count))
        TicketKeyRing.shared.install(on: context)
        SSL_CTX_set_alpn_select_cb(context, { _, selected, selectedLength, offered, offeredLength, _ in
            ALPN.selectHTTP1(selected, selectedLength, offered, offeredLength)
        }, nil)
    }
}

/// ALPN (RFC 7301): the gateway speaks HTTP/1.x only, until HTTP/2 exists: `http/1.1` when the
/// client offers it, else `http/1.0` (what an HTTP/1.0 client such as `curl -0` offers); a
/// client offering neither is refused.
enum ALPN {
    /// In the gateway's order of preference, whatever the client's.
    private static let supported = ["http/1.1", "http/1.0"]

    static func selectHTTP1(_ selected: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, _ selectedLength: UnsafeMutablePointer<UInt8>?,
                            _ offered: UnsafePointer<UInt8>?, _ offeredLength: UInt32) -> Int32 {
        guard let offered, let selected, let selectedLength else { return cshims_ssl_tlsext_err_noack() }
        for name in supported {
            var index = 0
            while index < Int(offeredLength) {
                let length = Int(offered[index])
                if length == 8 && index + 9 <= Int(offeredLength) && memcmp(offered + index + 1, name, 8) == 0 {
                    selected.pointee = offered + index + 1
                    selectedLength.pointee = 8
                    return cshims_ssl_tlsext_err_ok()
                }
                index += 1 + length
            }
        }
        return cshims_ssl_tlsext_err_alert_fatal()
    }
}
