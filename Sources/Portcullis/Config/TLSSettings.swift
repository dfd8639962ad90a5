/// `[tls]`: the protocol policy shared by every certificate. Defaults follow Mozilla's
/// "intermediate" profile (TLS 1.2 and 1.3, AEAD ciphers with forward secrecy).
public struct TLSSettings: Sendable, Equatable {
    public enum Version: String, Sendable {
        case tls12 = "1.2"
        case tls13 = "1.3"
    }

    /// What to do with a ClientHello whose server name matches no certificate (or has none).
    public enum UnknownServerName: String, Sendable {
        /// Answer with the default certificate.
        case `default`
        /// Refuse with an `unrecognized_name` alert.
        case reject
    }

    public var minimumVersion: Version
    /// TLS 1.2 cipher list (OpenSSL syntax).
    public var ciphers: String
    /// TLS 1.3 cipher suites.
    public var cipherSuites: String
    /// Key-exchange groups, pinned so OpenSSL does not also offer X448 and P-521.
    public var groups: String
    public var handshakeTimeout: UInt64
    public var unknownServerName: UnknownServerName
    /// With no `[[certificates]]`, generate a self-signed `localhost` certificate (development).
    public var selfSignedDev: Bool
    /// Where the development certificate is written.
    public var devCertificateDirectory: String
    /// Warn when a certificate has fewer days than this left.
    public var expiryWarningDays: Int
    /// The port in redirects from plain HTTP (0: the first HTTPS listener's port).
    public var redirectPort: Int
    /// How often the session-ticket key changes (tickets stay valid for two more periods).
    public var ticketKeyRotation: UInt64

    static let intermediateCiphers = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")
    static let tls13Suites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
}

/// `[[certificates]]`: one PEM full chain and its key (certbot's `live/<name>/` layout works as is).
public struct CertificateSettings: Sendable, Equatable {
    public var certificatePath: String
    public var keyPath: String
    /// Served for a missing or unknown server name (at most one; else the first certificate).
    public var isDefault: Bool
}

extension TLSSettings {
    init(reading table: TableReader) {
        defer { table.rejectUnknownKeys() }
        let versionText = table.string("min_version", default: "1.2")
        minimumVersion = Version(rawValue: versionText) ?? .tls12
        if Version(rawValue: versionText) == nil {
            table.report("min_version", "must be \"1.2\" or \"1.3\", got \"\(versionText)\" (older versions are never offered)")
        }
        ciphers = table.string("ciphers", default: Self.intermediateCiphers)
        cipherSuites = table.string("ciphersuites", default: Self.tls13Suites)
        groups = table.string("groups", default: "X25519:P-256:P-384")
        handshakeTimeout = table.duration("handshake_timeout", default: "10s")
        let unknownText = table.string("unknown_server_name", default: "default")
        unknownServerName = UnknownServerName(rawValue: unknownText) ?? .default
        if UnknownServerName(rawValue: unknownText) == nil {
            table.report("unknown_server_name", "must be \"default\" or \"reject\", got \"\(unknownText)\"")
        }
        selfSignedDev = table.bool("self_signed_dev", default: false)
        devCertificateDirectory = table.string("dev_certificate_dir", default: "certs")
        expiryWarningDays = table.int("expiry_warning_days", default: 21, range: 1...365)
        redirectPort = table.int("redirect_port", default: 0, range: 0...65535)
        ticketKeyRotation = table.duration("ticket_key_rotation", default: "12h")
    }
}

extension CertificateSettings {
    init(reading table: TableReader) {
        defer { table.rejectUnknownKeys() }
        certificatePath = table.string("cert", default: "")
        keyPath = table.string("key", default: "")
        if certificatePath.isEmpty { table.report("cert", "the PEM certificate chain path is required") }
        if keyPath.isEmpty { table.report("key", "the PEM private key path is required") }
        isDefault = table.bool("default", default: false)
    }
}
