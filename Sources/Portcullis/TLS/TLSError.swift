import COpenSSL

/// A certificate or TLS setup problem, with OpenSSL's own reason appended.
public struct TLSError: Error, CustomStringConvertible, Sendable {
    public let description: String

    init(_ message: String) {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var text = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &text, text.count)
            reasons.append(String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        description = reasons.isEmpty ? message : "\(message) (\(reasons.joined(separator: "; ")))"
    }
}
