import Glibc

/// `/fault/<kind>`: an upstream that breaks the exchange in one precise way, for the gateway's
/// upstream-fault tests. Each answers (or not) and closes the connection.
enum FaultyResponses {
    /// Plays the fault `kind` on `fd`; false (close the connection) for every known kind.
    static func serve(_ kind: String, fd: Int32) -> Bool {
        func send(_ text: String) { _ = OriginConnection.writeAll(fd, Array(text.utf8)) }
        switch kind {
        case "reset-mid-body":
            send("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + String(repeating: "r", count: 1000))
            usleep(50_000)
            // SO_LINGER with a zero timeout: close sends RST instead of FIN.
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        case "garbage-status":
            send("HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nno")
        case "huge-head":
            send("HTTP/1.1 200 OK\r\n" + String(repeating: "X-Filler: " + String(repeating: "f", count: 1000) + "\r\n", count: 200) + "\r\n")
        case "truncated-chunked":
            send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" + String(repeating: "t", count: 300))
        case "truncated-chunk-size":
            // Closes halfway through a chunk-size line.
            send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1")
        case "silent":
            sleep(5)
        case "truncated-json":
            // Compressible, of a known length the gateway's gzip holds whole: it ends halfway.
            send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 20000\r\n\r\n"
                 + String(repeating: "{\"k\": 1}", count: 1250))
        case "stalled-json":
            // The same, but the upstream stops sending instead of closing.
            send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 20000\r\n\r\n"
                 + String(repeating: "{\"k\": 1}", count: 1250))
            sleep(5)
        case "close-after-head":
            send("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
        case "no-reason":
            // Valid enough to serve (no reason phrase, not even its space); it once crashed the parser.
            send("HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok")
        default:
            send("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            return true
        }
        return false
    }
}
