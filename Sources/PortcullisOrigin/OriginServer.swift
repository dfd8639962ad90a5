import Foundation
import Glibc

/// `portcullis-origin`: a small HTTP/1.1 application server used as the demo app behind
/// `make run` and as the real upstream in integration tests. One thread per connection,
/// keep-alive, Content-Length and chunked bodies, WebSocket echo.
///
/// Endpoints: `/` (welcome page), `/bytes/N`, `/chunked/N`, `/close/N` (body delimited by close),
/// `/echo` (streams the request body back), `/headers` (the request head as received),
/// `/digest` (length and CRC-32 of the request body), `?piece=S` on `/bytes` and `/chunked` (the body
/// in S-byte writes), `/slow/MS`, `/stall/N` (head and half of a 2N body, then silence), `/stats` (connections, and requests other than /stats, so far), `/drop` (close without answering),
/// `/drop-next` (answer, then drop the next request on this connection), `/ws` (WebSocket echo),
/// `/status/CODE`, `/badchunk/N` (N good chunks, then a malformed chunk size), `/interim/N` (N 103s, then 200).
@main
struct OriginServer {
    static func main() {
        signal(SIGPIPE, SIG_IGN)
        var arguments = CommandLine.arguments.dropFirst()
        var address = "127.0.0.1"
        var port: UInt16 = 8000
        var name = "origin"
        while let argument = arguments.popFirst() {
            switch argument {
            case "--address": address = arguments.popFirst() ?? address
            case "--port": port = UInt16(arguments.popFirst() ?? "") ?? port
            case "--name": name = arguments.popFirst() ?? name
            default:
                FileHandle.standardError.write(Data("usage: portcullis-origin [--address A] [--port P] [--name N]\n".utf8))
                exit(2)
            }
        }
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = port.bigEndian
        inet_pton(AF_INET, address, &socketAddress.sin_addr)
        let bound = withUnsafePointer(to: &socketAddress) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 1024) == 0 else {
            FileHandle.standardError.write(Data("portcullis-origin: cannot listen on \(address):\(port): \(String(cString: strerror(errno)))\n".utf8))
            exit(1)
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        print("listening on \(address):\(UInt16(bigEndian: actual.sin_port))")
        fflush(nil)
        let stats = OriginStats()
        let serverName = name
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            stats.connectionAccepted()
            let thread = Thread { OriginConnection(fd: client, name: serverName, stats: stats).serve() }
            thread.stackSize = 256 * 1024
            thread.start()
        }
    }
}

/// Counters shared by the connection threads.
final class OriginStats: @unchecked Sendable {
    private let lock = NSLock()
    private var connections = 0
    private var requests = 0

    func connectionAccepted() { lock.withLock { connections += 1 } }
    func requestServed() { lock.withLock { requests += 1 } }

    var json: String {
        lock.withLock { "{\"connections\":\(connections),\"requests\":\(requests)}" }
    }
}
