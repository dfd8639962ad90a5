import COpenSSL
import CShims
import Foundation
import Glibc
@testable import Portcullis

/// A client-side TLS session on a connected blocking socket, built on OpenSSL, so tests see
/// exactly what a real client negotiates: the version, ALPN, the certificate served for a server
/// name, session reuse.
final class TLSChannel {
    private let context: OpaquePointer
    let ssl: OpaquePointer

    struct Options {
        var serverName: String? = "localhost"
        var maxVersion: Int32 = 0
        var alpn: [String] = ["http/1.1"]
        var session: OpaquePointer?
    }

    /// OpenSSL writes with write(2): a peer that closed first (a blocked client) must give an
    /// error, not kill the test process with SIGPIPE.
    private static let ignoreBrokenPipes: Void = { signal(SIGPIPE, SIG_IGN) }()

    /// Completes the handshake on `fd`, or throws with OpenSSL's reason.
    init(fd: Int32, options: Options) throws {
        Self.ignoreBrokenPipes
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
        ERR_clear_error()
        guard SSL_connect(ssl) == 1 else {
            // deinit runs for an initializer that throws once every property is set: it frees.
            throw HarnessError("handshake failed: \(TLSErrorText.drain())")
        }
    }

    deinit {
        // Without a shutdown OpenSSL marks the session non-resumable.
        shutdown()
        SSL_free(ssl)
        SSL_CTX_free(context)
    }

    /// Sends close_notify once the handshake is done (idempotent).
    func shutdown() {
        if SSL_is_init_finished(ssl) == 1 && SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN == 0 { SSL_shutdown(ssl) }
    }

    /// Bytes written (> 0), or <= 0 on failure.
    func write(_ bytes: UnsafeRawPointer, count: Int) -> Int {
        ERR_clear_error()
        var written = 0
        return SSL_write_ex(ssl, bytes, count, &written) == 1 ? written : -1
    }

    /// Bytes read (> 0), 0 at the end of the stream (close_notify or a plain close), < 0 on error.
    func read(into destination: UnsafeMutableRawPointer, count: Int) -> Int {
        ERR_clear_error()
        var received = 0
        if SSL_read_ex(ssl, destination, count, &received) == 1 { return received }
        switch SSL_get_error(ssl, 0) {
        case SSL_ERROR_ZERO_RETURN: return 0
        case SSL_ERROR_SYSCALL where errno == 0: return 0
        default: return -1
        }
    }
}

/// A TLS client for the questions TLS tests ask (version, ALPN, certificate, resumption), over
/// the ordinary test client.
final class TLSTestClient {
    let connection: TestClient
    private var channel: TLSChannel { connection.tls! }

    init(port: UInt16, options: TLSChannel.Options = .init()) throws {
        connection = try TestClient(port: port, transport: .tls, tlsOptions: options)
    }

    var version: String { String(cString: SSL_get_version(channel.ssl)) }
    var sessionReused: Bool { SSL_session_reused(channel.ssl) == 1 }

    var alpn: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(channel.ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// The serial number of the certificate the server presented, in hex.
    var peerSerial: String {
        guard let certificate = SSL_get1_peer_certificate(channel.ssl) else { return "" }
        defer { X509_free(certificate) }
        return CertificateInspector.serial(certificate)
    }

    /// A session to resume later (retained; free with SSL_SESSION_free).
    func session() -> OpaquePointer? { SSL_get1_session(channel.ssl) }

    /// The response head of the last `get`.
    private(set) var lastHead = ""

    /// One GET over the TLS connection; returns status and body.
    func get(_ path: String) throws -> (status: Int, body: String) {
        try connection.send("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let response = try connection.readResponse()
        lastHead = (["HTTP/1.1 \(response.status)"] + response.headers.map { "\($0.0): \($0.1)" }).joined(separator: "\r\n")
        return (response.status, response.text)
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
    /// One certificate for `localhost`, made once per test run and shared by every gateway
    /// that serves both transports.
    static func localhost() throws -> (String, String) {
        try sharedLocalhost.get()
    }

    private static let sharedLocalhost = Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-localhost-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return try make(["localhost"], in: directory, file: "localhost")
    }

    /// Writes a self-signed P-256 certificate for `names` into `directory`; returns (cert, key).
    static func make(_ names: [String], in directory: URL, file: String, rsa: Bool = false) throws -> (String, String) {
        let certificate = directory.appendingPathComponent("\(file).pem").path
        let key = directory.appendingPathComponent("\(file)-key.pem").path
        let keyOptions = rsa ? ["-newkey", "rsa:2048"] : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        let openssl = try ChildProcess.output(of: "/usr/bin/openssl", ["req", "-x509"] + keyOptions + ["-nodes", "-days", "30",
                                              "-keyout", key, "-out", certificate, "-subj", "/CN=\(names[0])",
                                              "-addext", "subjectAltName=" + names.map { "DNS:\($0)" }.joined(separator: ",")])
        guard openssl.status == 0 else { throw HarnessError("openssl req failed for \(names): \(openssl.output)") }
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
