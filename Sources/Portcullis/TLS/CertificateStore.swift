import CShims
import COpenSSL
import Glibc

/// Every certificate of one configuration snapshot and the SNI choice between them: exact SAN
/// names first, then wildcards (`*.example.com` covers one label), then the default (or an
/// `unrecognized_name` alert when `tls.unknown_server_name = "reject"`). Built whole off the hot
/// path and swapped whole on reload; a connection keeps the store it started its handshake with.
public final class CertificateStore: @unchecked Sendable {
    public let contexts: [TLSContext]
    let defaultContext: TLSContext
    private let exact: [String: TLSContext]
    private let wildcard: [String: TLSContext]
    private let rejectUnknown: Bool
    public let handshakeTimeout: UInt64

    /// Loads every configured certificate; any failure leaves nothing half-built.
    public init(settings: TLSSettings, certificates: [CertificateSettings]) throws(TLSError) {
        var contexts: [TLSContext] = []
        for certificate in certificates {
            contexts.append(try TLSContext(certificatePath: certificate.certificatePath, keyPath: certificate.keyPath, settings: settings))
        }
        guard let first = contexts.first else { throw TLSError("no certificate configured") }
        self.contexts = contexts
        defaultContext = zip(certificates, contexts).first { $0.0.isDefault }?.1 ?? first
        var exact: [String: TLSContext] = [:]
        var wildcard: [String: TLSContext] = [:]
        for context in contexts {
            for name in context.names {
                if name.hasPrefix("*.") {
                    wildcard[String(name.dropFirst(2))] = wildcard[String(name.dropFirst(2))] ?? context
                } else {
                    exact[name] = exact[name] ?? context
                }
            }
        }
        self.exact = exact
        self.wildcard = wildcard
        rejectUnknown = settings.unknownServerName == .reject
        handshakeTimeout = settings.handshakeTimeout
        let store = Unmanaged.passUnretained(self).toOpaque()
        _ = cshims_ssl_ctx_set_servername_callback(defaultContext.context, { ssl, alert, argument in
            guard let ssl, let argument else { return cshims_ssl_tlsext_err_alert_fatal() }
            let store = Unmanaged<CertificateStore>.fromOpaque(argument).takeUnretainedValue()
            return store.selectCertificate(ssl, alert)
        }, store)
    }

    /// The certificate for `serverName`, or nil when none matches.
    public func context(for serverName: String) -> TLSContext? {
        let name = serverName.lowercased()
        if let context = exact[name] { return context }
        if let dot = name.firstIndex(of: "."), let context = wildcard[String(name[name.index(after: dot)...])] { return context }
        return nil
    }

    /// A new server-side TLS session, not yet attached to a socket (its certificate is chosen by
    /// SNI during the handshake).
    func makeSession() -> OpaquePointer? {
        guard let ssl = SSL_new(defaultContext.context) else { return nil }
        SSL_set_accept_state(ssl)
        return ssl
    }

    /// The servername callback: switch to the matching certificate, keep the default, or refuse.
    private func selectCertificate(_ ssl: OpaquePointer, _ alert: UnsafeMutablePointer<Int32>?) -> Int32 {
        if let raw = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name), let context = context(for: String(cString: raw)) {
            if context !== defaultContext { SSL_set_SSL_CTX(ssl, context.context) }
            return cshims_ssl_tlsext_err_ok()
        }
        if rejectUnknown {
            alert?.pointee = SSL_AD_UNRECOGNIZED_NAME
            return cshims_ssl_tlsext_err_alert_fatal()
        }
        return cshims_ssl_tlsext_err_ok()
    }
}
