import COpenSSL
import CShims
import Foundation
import Glibc
import Testing

/// How a test client reaches the gateway. Every test that moves a body runs over both.
enum Transport: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case plain
    case tls

    var testDescription: String { rawValue }
}

/// A response as a test sees it.
struct TestResponse {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]
    /// The response was chunked on the wire, in this many chunks (the last, empty one not counted).
    var wasChunked = false
    var chunkCount = 0

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    var text: String { String(decoding: body, as: UTF8.self) }
}

/// A blocking HTTP/1.1 client over a raw socket, or over TLS on it, so tests control every byte
/// (pipelining, malformed requests, half-closes) and check every byte of the answer.
final class TestClient: @unchecked Sendable {
    let fd: Int32
    /// The TLS session, with `.tls`.
    private(set) var tls: TLSChannel?
    private var buffer: [UInt8] = []
    /// Bytes received so far (a load client retries a request that got none on a reused connection).
    private(set) var bytesReceived = 0

    /// Connects to 127.0.0.1:`port`, from `source` (another loopback address) when given, and
    /// with `.tls` completes a handshake (or throws with OpenSSL's reason).
    /// `receiveBufferBytes` shrinks the socket's receive buffer (a slow client's small window).
    init(port: UInt16, transport: Transport = .plain, tlsOptions: TLSChannel.Options = .init(), timeoutSeconds: Int = 15,
         source: String? = nil, receiveBufferBytes: Int32 = 0) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if receiveBufferBytes > 0 {
            var size = receiveBufferBytes
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            _ = withUnsafePointer(to: &local) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            // deinit runs for an initializer that throws once every property is set: it closes fd.
            throw HarnessError("connect to \(port): \(String(cString: strerror(errno)))")
        }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        if transport == .tls { tls = try TLSChannel(fd: fd, options: tlsOptions) }
    }

    deinit {
        tls = nil
        close(fd)
    }

    static func canConnect(port: UInt16) -> Bool {
        (try? TestClient(port: port)) != nil
    }

    /// One GET on a fresh connection.
    static func get(port: UInt16, _ path: String, headers: [String: String] = [:]) throws -> TestResponse {
        let client = try TestClient(port: port)
        let extra = headers.map { "\($0.key): \($0.value)\r\n" }.joined()
        try client.send("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\(extra)\r\n")
        return try client.readResponse()
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try send($0) }
    }

    /// Sends every byte, through TLS when the client has it.
    func send(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let written: Int
            if let tls {
                written = tls.write(bytes.baseAddress! + offset, count: bytes.count - offset)
            } else {
                written = Glibc.send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            }
            guard written > 0 else { throw HarnessError("send: \(tls == nil ? String(cString: strerror(errno)) : TLSErrorText.drain())") }
            offset += written
        }
    }

    /// One read of at most `count` bytes: > 0 bytes, 0 at the end of the stream, < 0 on error
    /// (a receive timeout included).
    func receive(into destination: UnsafeMutableRawPointer, count: Int) -> Int {
        if let tls { return tls.read(into: destination, count: count) }
        return recv(fd, destination, count, 0)
    }

    /// Decrypted bytes wait inside OpenSSL (poll(2) would not report them).
    var hasBufferedInput: Bool { tls.map { SSL_pending($0.ssl) > 0 } ?? false }

    /// Something from the server is waiting to be read (an early answer to an upload).
    func isReadable() -> Bool {
        if !buffer.isEmpty || hasBufferedInput { return true }
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, 0) > 0 else { return false }
        guard let tls else { return true }
        // Over TLS the socket also turns readable for records that carry no data (TLS 1.3
        // session tickets): peek without blocking to see whether application data came.
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(fd, F_SETFL, flags) }
        var byte: UInt8 = 0
        ERR_clear_error()
        return SSL_peek(tls.ssl, &byte, 1) > 0
    }

    /// Ends our sending side (with TLS, close_notify first).
    func shutdownWrite() {
        tls?.shutdown()
        shutdown(fd, Int32(SHUT_WR))
    }

    /// Reads one response; `head` for responses to HEAD (no body whatever the fields say).
    func readResponse(head: Bool = false) throws -> TestResponse {
        let headEnd = try readUntil([13, 10, 13, 10])
        let headText = String(decoding: buffer[0..<headEnd], as: UTF8.self)
        buffer.removeFirst(headEnd + 4)
        let lines = headText.components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, lines[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw HarnessError("bad status line: \(lines[0])")
        }
        let headers = lines.dropFirst().map { line -> (String, String) in
            let colon = line.firstIndex(of: ":") ?? line.endIndex
            return (String(line[..<colon]), line[colon...].dropFirst().trimmingCharacters(in: .whitespaces))
        }
        var response = TestResponse(status: status, headers: headers, body: [])
        if head || status < 200 || status == 204 || status == 304 { return response }
        if response.header("transfer-encoding")?.lowercased() == "chunked" {
            response.wasChunked = true
            (response.body, response.chunkCount) = try readChunkedBody()
        } else if let length = response.header("content-length").flatMap(Int.init) {
            try fill(length)
            response.body = Array(buffer[0..<length])
            buffer.removeFirst(length)
        } else {
            while (try? fillMore()) == true {}
            response.body = buffer
            buffer.removeAll()
        }
        return response
    }

    /// True when the server closed the connection (reads return end of stream).
    func isClosedByPeer() -> Bool {
        guard buffer.isEmpty else { return false }
        var byte: UInt8 = 0
        return receive(into: &byte, count: 1) == 0
    }

    private func readChunkedBody() throws -> (body: [UInt8], chunks: Int) {
        var body: [UInt8] = []
        var chunks = 0
        while true {
            let lineEnd = try readUntil([13, 10])
            let sizeText = String(decoding: buffer[0..<lineEnd], as: UTF8.self)
            buffer.removeFirst(lineEnd + 2)
            guard let size = Int(sizeText.split(separator: ";")[0], radix: 16) else { throw HarnessError("bad chunk size \(sizeText)") }
            if size == 0 {
                _ = try readUntil([13, 10])
                buffer.removeFirst(2)
                return (body, chunks)
            }
            chunks += 1
            try fill(size + 2)
            body += buffer[0..<size]
            guard buffer[size] == 13 && buffer[size + 1] == 10 else { throw HarnessError("chunk not followed by CRLF") }
            buffer.removeFirst(size + 2)
        }
    }

    private func readUntil(_ terminator: [UInt8]) throws -> Int {
        var searchFrom = 0
        while true {
            if buffer.count >= terminator.count {
                for index in searchFrom...(buffer.count - terminator.count) where buffer[index] == terminator[0] {
                    if Array(buffer[index..<(index + terminator.count)]) == terminator { return index }
                }
                searchFrom = max(0, buffer.count - terminator.count)
            }
            guard try fillMore() else { throw HarnessError("connection closed before \(terminator)") }
        }
    }

    private func fill(_ count: Int) throws {
        while buffer.count < count {
            guard try fillMore() else { throw HarnessError("connection closed with \(buffer.count) of \(count) bytes") }
        }
    }

    /// Reads once; false at end of stream.
    private func fillMore() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { receive(into: $0.baseAddress!, count: $0.count) }
        if count < 0 { throw HarnessError("recv: \(String(cString: strerror(errno)))") }
        if count == 0 { return false }
        bytesReceived += count
        buffer += chunk[0..<count]
        return true
    }
}
