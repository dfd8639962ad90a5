import COpenSSL
import CShims
import Foundation
import Glibc
@testable import Portcullis

/// A blocking TLS client built on OpenSSL, so tests see exactly what a real client negotiates:
/// the version, ALPN, the certificate served for a server name, session reuse.
final class TLSTestClient {
    let fd: Int32
    private let context: OpaquePointer
    let ssl: OpaquePointer

    struct Options {
        var serverName: String? = "localhost"
        var maxVersion: Int32 = 0
        var alpn: [String] = ["http/1.1"]
        var session: OpaquePointer?
    }

    /// Connects and completes the handshake, or throws with OpenSSL's reason.
    init(port: UInt16, options: Options = Options()) throws {
        let plain = try TestClient(port: port)
        fd = dup(plain.fd)
        context = SSL_CTX_new(TLS_client_method())!
        if options.maxVersion != 0 { _ = cshims_ssl_ctx_set_max_proto_version(context, options.maxVersion) }
        _ = cshims_ssl_ctx_set_min_proto_version(context, 0x0301)
        SSL_CTX_set_security_level(context, 0)
        ssl = SSL_new(context)!
        SSL_set_fd(ssl, fd)
        if let name = options.serverName { _ = cshims_set_tlsext_host_name(ssl, name) }
        if !options.alpn.isEmpty {
            let wire = options.alpn.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) }
            _ = SSL_set_alpn_protos(ssl, wire, UInt32(wire.count))
        }
        if let session = options.session { SSL_set_session(ssl, session) }
        guard SSL_connect(ssl) == 1 else {
            // deinit runs for an initializer that throws once every property is set: it frees.
            throw HarnessError("handshake failed: \(TLSErrorText.drain())")
        }
    }

    deinit {
        // Without a shutdown OpenSSL marks the session non-resumable.
        if SSL_is_init_finished(ssl) == 1 { SSL_shutdown(ssl) }
        SSL_free(ssl)
        SSL_CTX_free(context)
        close(fd)
    }

    var version: String { String(cString: SSL_get_version(ssl)) }
    var sessionReused: Bool { SSL_session_reused(ssl) == 1 }

    var alpn: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// The serial number of the certificate the server presented, in hex.
    var peerSerial: String {
        guard let certificate = SSL_get1_peer_certificate(ssl) else { return "" }
        defer { X509_free(certificate) }
        return CertificateInspector.serial(certificate)
    }

    /// A session to resume later (retained; free with SSL_SESSION_free).
    func session() -> OpaquePointer? { SSL_get1_session(ssl) }

    /// The response head of the last `get`.
    private(set) var lastHead = ""

    /// One GET over the TLS connection; returns status and body.
    func get(_ path: String) throws -> (status: Int, body: String) {
        let request = Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8)
        guard SSL_write(ssl, request, Int32(request.count)) == Int32(request.count) else { throw HarnessError("TLS write failed") }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let text = String(decoding: received, as: UTF8.self)
            if let headEnd = text.range(of: "\r\n\r\n"),
               let lengthLine = text[..<headEnd.lowerBound].split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("content-length:") }),
               let length = Int(lengthLine.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)),
               text.utf8.distance(from: text.utf8.startIndex, to: headEnd.upperBound.samePosition(in: text.utf8)!) + length <= received.count {
                let status = Int(text.split(separator: " ")[1]) ?? 0
                lastHead = String(text[..<headEnd.lowerBound])
                return (status, String(text[headEnd.upperBound...]))
            }
            let count = SSL_read(ssl, &buffer, Int32(buffer.count))
            guard count > 0 else { throw HarnessError("TLS read failed after \(received.count) bytes") }
            received += buffer[0..<Int(count)]
        }
    }
}

/// OpenSSL's error queue as text.
enum TLSErrorText {
    static func drain() -> String {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var text = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &text, text.count)
            reasons.append(String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return reasons.joined(separator: "; ")
    }
}

/// Test certificates made by the real `openssl` command.
enum TestCertificates {
    /// Writes a self-signed P-256 certificate for `names` into `directory`; returns (cert, key).
    static func make(_ names: [String], in directory: URL, file: String, rsa: Bool = false) throws -> (String, String) {
        let certificate = directory.appendingPathComponent("\(file).pem").path
        let key = directory.appendingPathComponent("\(file)-key.pem").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        let keyOptions = rsa ? ["-newkey", "rsa:2048"] : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        process.arguments = ["req", "-x509"] + keyOptions + ["-nodes", "-days", "30",
                             "-keyout", key, "-out", certificate, "-subj", "/CN=\(names[0])",
                             "-addext", "subjectAltName=" + names.map { "DNS:\($0)" }.joined(separator: ",")]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw HarnessError("openssl req failed for \(names)") }
        return (certificate, key)
    }

    /// The serial of a PEM certificate file, in hex (as OpenSSL prints it).
    static func serial(of path: String) -> String {
        guard let file = fopen(path, "r") else { return "" }
        defer { fclose(file) }
        guard let certificate = PEM_read_X509(file, nil, nil, nil) else { return "" }
        defer { X509_free(certificate) }
        return CertificateInspector.serial(certificate)
    }
}
