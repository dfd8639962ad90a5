import Foundation
import Glibc

/// A minimal blocking client for the admin API, used by the CLI (`portcullis reload`,
/// `portcullis blocklist`).
public enum AdminClient {
    /// Sends an authenticated request; returns the status and the body (waiting at most
    /// `timeoutSeconds` for it).
    public static func request(_ method: String, path: String, body: String = "", to address: SocketAddress,
                               token: AdminToken, timeoutSeconds: Int = 30) throws(AdminClientError) -> (Int, String) {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw AdminClientError(description: "socket: \(SystemError("socket"))") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard address.withSockAddr({ connect(fd, $0, $1) }) == 0 else {
            throw AdminClientError(description: "cannot reach the admin API at \(address): \(SystemError("connect"))")
        }
        let request = Array("""
            \(method) \(path) HTTP/1.1\r\nHost: \(address)\r\nAuthorization: \(token.authorizationValue)\r\n\
            Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)
            """.utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else {
            throw AdminClientError(description: "cannot send to \(address)")
        }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = recv(fd, &chunk, chunk.count, 0)
            if count <= 0 { break }
            response += chunk[0..<count]
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let headEnd = text.range(of: "\r\n\r\n"), let status = Int(text.split(separator: " ").dropFirst().first ?? "") else {
            throw AdminClientError(description: "unexpected answer from \(address)")
        }
        return (status, String(text[headEnd.upperBound...]))
    }
}

/// Why an admin API call failed.
public struct AdminClientError: Error, CustomStringConvertible {
    public let description: String
}
