import COpenSSL
import Glibc

/// Reads the facts the gateway needs out of an X.509 certificate.
enum CertificateInspector {
    /// SAN DNS names, lower-cased; the subject CN when there is no SAN.
    static func dnsNames(_ certificate: OpaquePointer) -> [String] {
        var names: [String] = []
        if let raw = X509_get_ext_d2i(certificate, NID_subject_alt_name, nil, nil) {
            let stack = OpaquePointer(raw)
            for index in 0..<OPENSSL_sk_num(stack) {
                guard let entry = OPENSSL_sk_value(stack, index)?.assumingMemoryBound(to: GENERAL_NAME.self),
                      entry.pointee.type == GEN_DNS, let value = entry.pointee.d.dNSName,
                      let bytes = ASN1_STRING_get0_data(value) else { continue }
                names.append(String(decoding: UnsafeBufferPointer(start: bytes, count: Int(ASN1_STRING_length(value))), as: UTF8.self).lowercased())
            }
            GENERAL_NAMES_free(OpaquePointer(raw))
        }
        if names.isEmpty, let subject = X509_get_subject_name(certificate) {
            var text = [CChar](repeating: 0, count: 256)
            if X509_NAME_get_text_by_NID(subject, NID_commonName, &text, Int32(text.count)) > 0 {
                names.append(String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self).lowercased())
            }
        }
        return names
    }

    /// End of validity, seconds since the epoch.
    static func notAfter(_ certificate: OpaquePointer) -> Int {
        var tm = Glibc.tm()
        guard ASN1_TIME_to_tm(X509_get0_notAfter(certificate), &tm) == 1 else { return 0 }
        return timegm(&tm)
    }

    /// The serial number in upper-case hex.
    static func serial(_ certificate: OpaquePointer) -> String {
        guard let number = ASN1_INTEGER_to_BN(X509_get0_serialNumber(certificate), nil) else { return "" }
        defer { BN_free(number) }
        guard let hex = BN_bn2hex(number) else { return "" }
        defer { CRYPTO_free(hex, #file, #line) }
        return String(cString: hex)
    }
}
