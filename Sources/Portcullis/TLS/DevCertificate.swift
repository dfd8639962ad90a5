import COpenSSL
import Foundation

/// A self-signed ECDSA P-256 certificate for `localhost` (and 127.0.0.1, ::1), made with the
/// OpenSSL API at first start when `tls.self_signed_dev` is on and no certificate is configured.
/// Development only: browsers will warn, curl needs `-k`.
public enum DevCertificate {
    /// The certificate and key paths in `directory`, generated if they do not exist yet.
    public static func ensure(in directory: String) throws(TLSError) -> CertificateSettings {
        let certificatePath = (directory as NSString).appendingPathComponent("dev-localhost.pem")
        let keyPath = (directory as NSString).appendingPathComponent("dev-localhost-key.pem")
        let settings = CertificateSettings(certificatePath: certificatePath, keyPath: keyPath, isDefault: true)
        if FileManager.default.fileExists(atPath: certificatePath) && FileManager.default.fileExists(atPath: keyPath) {
            return settings
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw TLSError("cannot create \(directory): \(error)")
        }
        try generate(certificatePath: certificatePath, keyPath: keyPath)
        return settings
    }

    private static func generate(certificatePath: String, keyPath: String) throws(TLSError) {
        ERR_clear_error()
        guard let keyContext = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nil) else { throw TLSError("EVP_PKEY_CTX_new_id failed") }
        defer { EVP_PKEY_CTX_free(keyContext) }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(keyContext) == 1,
              EVP_PKEY_CTX_set_ec_paramgen_curve_nid(keyContext, NID_X9_62_prime256v1) == 1,
              EVP_PKEY_keygen(keyContext, &key) == 1, let key else {
            throw TLSError("cannot generate a P-256 key")
        }
        defer { EVP_PKEY_free(key) }
        guard let certificate = X509_new() else { throw TLSError("X509_new failed") }
        defer { X509_free(certificate) }
        X509_set_version(certificate, 2)
        var serial = [UInt8](repeating: 0, count: 16)
        RAND_bytes(&serial, Int32(serial.count))
        serial[0] &= 0x7F
        if let number = BN_bin2bn(serial, Int32(serial.count), nil) {
            BN_to_ASN1_INTEGER(number, X509_get_serialNumber(certificate))
            BN_free(number)
        }
        X509_gmtime_adj(X509_getm_notBefore(certificate), -3600)
        X509_gmtime_adj(X509_getm_notAfter(certificate), 90 * 24 * 3600)
        X509_set_pubkey(certificate, key)
        let name = X509_get_subject_name(certificate)
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, "localhost", -1, -1, 0)
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, "Portcullis development certificate", -1, -1, 0)
        X509_set_issuer_name(certificate, name)
        var extensionContext = X509V3_CTX()
        X509V3_set_ctx(&extensionContext, certificate, certificate, nil, nil, 0)
        for (nid, value) in [(NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1"), (NID_basic_constraints, "critical,CA:FALSE"),
                             (NID_ext_key_usage, "serverAuth")] {
            guard let extensionValue = X509V3_EXT_conf_nid(nil, &extensionContext, nid, value) else { throw TLSError("cannot build \(value)") }
            X509_add_ext(certificate, extensionValue, -1)
            X509_EXTENSION_free(extensionValue)
        }
        guard X509_sign(certificate, key, EVP_sha256()) > 0 else { throw TLSError("cannot sign the certificate") }
        try write(keyPath, mode: 0o600) { PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil) }
        try write(certificatePath, mode: 0o644) { PEM_write_bio_X509($0, certificate) }
    }

    private static func write(_ path: String, mode: mode_t, _ body: (OpaquePointer) -> Int32) throws(TLSError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
        guard descriptor >= 0 else { throw TLSError("cannot write \(path)") }
        close(descriptor)
        guard let bio = BIO_new_file(path, "w") else { throw TLSError("cannot write \(path)") }
        defer { BIO_free(bio) }
        guard body(bio) == 1 else { throw TLSError("cannot write \(path)") }
    }
}
