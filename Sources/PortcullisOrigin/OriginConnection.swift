import CZlib
import Foundation
import Glibc

/// One blocking connection of the origin server: reads requests, answers them in order.
final class OriginConnection {
    private let fd: Int32
    private let name: String
    private let stats: OriginStats
    private var buffer: [UInt8] = []
    private var dropNext = false

    init(fd: Int32, name: String, stats: OriginStats) {
        self.fd = fd
        self.name = name
        self.stats = stats
    }

    /// A parsed request head.
    struct Request {
        var method: String
        var target: String
        var version: String
        var headers: [(String, String)]
        var rawHead: String

        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name }?.1
        }
    }

    func serve() {
        defer { close(fd) }
        while let request = readHead() {
            if dropNext { return }
            if !request.target.hasPrefix("/stats") { stats.requestServed() }
            guard handle(request) else { return }
            if request.header("connection")?.lowercased() == "close" || request.version == "HTTP/1.0" { return }
        }
    }

    /// Answers one request; false when the connection must close.
    private func handle(_ request: Request) -> Bool {
        let parts = request.target.split(separator: "?")[0].split(separator: "/").map(String.init)
        let first = parts.first ?? ""
        let number = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        // `?piece=S`: the body leaves in S-byte writes instead of one (how much arrives at once);
        // `&pause=M`: M milliseconds between them.
        func queryNumber(_ name: String) -> Int? {
            request.target.split(separator: "?").dropFirst().first
                .flatMap { $0.split(separator: "&").first { $0.hasPrefix(name + "=") } }
                .flatMap { Int($0.dropFirst(name.count + 1)) }
        }
        let piece = queryNumber("piece")
        let pause = queryNumber("pause") ?? 0
        switch first {
        case "":
            discardBody(request)
            let page = "<!doctype html><title>Portcullis demo app</title><h1>Hello from the demo app behind Portcullis</h1>\n<p>Request id: \(request.header("x-request-id") ?? "-")</p>\n"
            return respond(200, type: "text/html; charset=utf-8", body: Array(page.utf8))
        case "bytes":
            discardBody(request)
            guard let piece, request.method != "HEAD" else {
                return respond(200, type: "application/octet-stream", body: pattern(number), head: request.method == "HEAD")
            }
            writeAll(Array("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: \(number)\r\nX-Origin: \(name)\r\n\r\n".utf8))
            return writeInPieces(pattern(number), piece: piece, pauseMilliseconds: pause)
        case "text":
            // /text/N: N bytes of JSON-like text (compressible, not trivially), with a length;
            // /text/N?no-transform adds Cache-Control: no-transform.
            discardBody(request)
            let noTransform = request.target.hasSuffix("?no-transform") ? "Cache-Control: no-transform\r\n" : ""
            let body = text(number)
            let fields = "ETag: \"v\(number)\"\r\n" + noTransform
            guard let piece, request.method != "HEAD" else {
                return respond(200, type: "application/json", body: body, head: request.method == "HEAD", extraFields: fields)
            }
            respond(200, type: "application/json", body: body, head: true, extraFields: fields)
            return writeInPieces(body, piece: piece, pauseMilliseconds: pause)
        case "chunked", "textchunked":
            // /chunked/N: N pattern bytes; /textchunked/N: N bytes of /text/N; both chunked, in
            // chunks of 4096 bytes sent one by one (or of `piece` bytes).
            discardBody(request)
            let type = first == "chunked" ? "application/octet-stream" : "text/plain; charset=utf-8"
            writeAll(Array("HTTP/1.1 200 OK\r\nContent-Type: \(type)\r\nTransfer-Encoding: chunked\r\nX-Origin: \(name)\r\n\r\n".utf8))
            let body = first == "chunked" ? pattern(number) : text(number)
            let size = max(piece ?? 4096, 1)
            var offset = 0
            while offset < body.count {
                let end = min(offset + size, body.count)
                writeAll(Array(String(end - offset, radix: 16).utf8) + [13, 10] + Array(body[offset..<end]) + [13, 10])
                offset = end
            }
            return writeAll(Array("0\r\n\r\n".utf8))
        case "digest":
            // The request body's length and CRC-32, so large uploads are checked without an echo.
            var count = 0
            var crc = crc32(0, nil, 0)
            readBody(request) { chunk in
                count += chunk.count
                crc = chunk.withUnsafeBufferPointer { crc32(crc, $0.baseAddress, uInt($0.count)) }
            }
            return respond(200, type: "text/plain", body: Array("bytes=\(count) crc32=\(crc)\n".utf8))
        case "close":
            discardBody(request)
            writeAll(Array("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n".utf8))
            writeAll(pattern(number))
            return false
        case "echo":
            return echo(request)
        case "headers":
            discardBody(request)
            return respond(200, type: "text/plain", body: Array(request.rawHead.utf8))
        case "set-headers":
            // /set-headers?Name=value&Other=value: answers with those fields (header policy tests).
            discardBody(request)
            let query = request.target.split(separator: "?", maxSplits: 1).dropFirst().first ?? ""
            let fields = query.split(separator: "&").map { pair in
                pair.replacingOccurrences(of: "=", with: ": ").removingPercentEncoding ?? String(pair)
            }
            return respond(200, type: "text/plain", body: Array("ok\n".utf8), extraFields: fields.map { "\($0)\r\n" }.joined())
        case "slow":
            discardBody(request)
            usleep(UInt32(number) * 1000)
            return respond(200, type: "text/plain", body: Array("slow \(number)ms\n".utf8))
        case "stats":
            return respond(200, type: "application/json", body: Array(stats.json.utf8))
        case "status":
            discardBody(request)
            return respond(number, type: "text/plain", body: number == 204 || number == 304 ? [] : Array("status \(number)\n".utf8))
        case "stall":
            discardBody(request)
            writeAll(Array("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(2 * number)\r\n\r\n".utf8) + pattern(number))
            sleep(5)
            return false
        case "badchunk":
            // /badchunk/N: a chunked response whose first chunk size is not hex, after N good
            // chunks of 1000 bytes.
            discardBody(request)
            var bytes = Array("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
            for _ in 0..<number { bytes += Array("3e8\r\n".utf8) + pattern(1000) + [13, 10] }
            writeAll(bytes + Array("zz\r\nnot a chunk\r\n".utf8))
            return false
        case "interim":
            // /interim/N: N 103 Early Hints before the 200.
            discardBody(request)
            writeAll(Array(String(repeating: "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n", count: number).utf8))
            return respond(200, type: "text/plain", body: Array("after \(number) hints\n".utf8))
        case "drop":
            return false
        case "fault":
            discardBody(request)
            return FaultyResponses.serve(parts.count > 1 ? parts[1] : "", fd: fd)
        case "drop-next":
            dropNext = true
            return respond(200, type: "text/plain", body: Array("the next request on this connection will be dropped\n".utf8))
        case "ws":
            return WebSocketEcho.serve(request, fd: fd, pending: buffer) && false
        default:
            discardBody(request)
            return respond(404, type: "text/plain", body: Array("not found\n".utf8))
        }
    }

    // MARK: Bodies

    /// Streams the request body back, chunked, as it arrives.
    private func echo(_ request: Request) -> Bool {
        writeAll(Array("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nX-Origin: \(name)\r\n\r\n".utf8))
        readBody(request) { chunk in
            writeAll(Array(String(chunk.count, radix: 16).utf8) + [13, 10] + chunk + [13, 10])
        }
        return writeAll(Array("0\r\n\r\n".utf8))
    }

    private func discardBody(_ request: Request) {
        readBody(request) { _ in }
    }

    /// Reads a Content-Length or chunked body, handing it out in pieces.
    private func readBody(_ request: Request, _ consume: ([UInt8]) -> Void) {
        if request.header("transfer-encoding")?.lowercased() == "chunked" {
            while let line = readLine(), let size = Int(line.split(separator: ";")[0], radix: 16) {
                if size == 0 {
                    while let trailer = readLine(), !trailer.isEmpty {}
                    return
                }
                var remaining = size
                while remaining > 0, let piece = readUpTo(remaining) {
                    consume(piece)
                    remaining -= piece.count
                }
                _ = readLine()
            }
            return
        }
        var remaining = Int(request.header("content-length") ?? "0") ?? 0
        while remaining > 0, let piece = readUpTo(min(remaining, 65536)) {
            consume(piece)
            remaining -= piece.count
        }
    }

    // MARK: Socket I/O

    private func readHead() -> Request? {
        while true {
            if let end = findHeadEnd() {
                let head = String(decoding: buffer[0..<end], as: UTF8.self)
                buffer.removeFirst(end + 4)
                let lines = head.components(separatedBy: "\r\n")
                let requestLine = lines[0].split(separator: " ").map(String.init)
                guard requestLine.count == 3 else { return nil }
                let headers = lines.dropFirst().compactMap { line -> (String, String)? in
                    guard let colon = line.firstIndex(of: ":") else { return nil }
                    return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
                }
                return Request(method: requestLine[0], target: requestLine[1], version: requestLine[2], headers: headers, rawHead: head + "\r\n\r\n")
            }
            guard fill() else { return nil }
        }
    }

    private func findHeadEnd() -> Int? {
        guard buffer.count >= 4 else { return nil }
        for index in 0...(buffer.count - 4) where buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
            return index
        }
        return nil
    }

    private func readLine() -> String? {
        while true {
            if let index = buffer.firstIndex(of: 10) {
                let line = String(decoding: buffer[0..<index], as: UTF8.self).trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
                buffer.removeFirst(index + 1)
                return line
            }
            guard fill() else { return nil }
        }
    }

    private func readUpTo(_ count: Int) -> [UInt8]? {
        if buffer.isEmpty { guard fill() else { return nil } }
        let take = min(count, buffer.count)
        let piece = Array(buffer[0..<take])
        buffer.removeFirst(take)
        return piece
    }

    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = recv(fd, &chunk, chunk.count, 0)
        guard count > 0 else { return false }
        buffer.append(contentsOf: chunk[0..<count])
        return true
    }

    @discardableResult
    private func respond(_ status: Int, type: String, body: [UInt8], head: Bool = false, extraFields: String = "") -> Bool {
        let reason = status == 200 ? "OK" : "Status"
        let lengthField = status == 204 || status == 304 ? "" : "Content-Length: \(body.count)\r\n"
        let text = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(type)\r\n\(lengthField)X-Origin: \(name)\r\nServer: portcullis-origin\r\nX-Powered-By: demo\r\n\(extraFields)\r\n"
        return writeAll(Array(text.utf8) + (head ? [] : body))
    }

    @discardableResult
    private func writeAll(_ bytes: [UInt8]) -> Bool {
        OriginConnection.writeAll(fd, bytes)
    }

    /// Writes every byte or reports failure.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }

    /// Sends `body` in writes of at most `piece` bytes, with Nagle off so each leaves on its own.
    private func writeInPieces(_ body: [UInt8], piece: Int, pauseMilliseconds: Int) -> Bool {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var offset = 0
        while offset < body.count {
            let end = min(offset + max(piece, 1), body.count)
            if offset > 0 && pauseMilliseconds > 0 { usleep(UInt32(pauseMilliseconds) * 1000) }
            guard writeAll(Array(body[offset..<end])) else { return false }
            offset = end
        }
        return true
    }

    /// A recognisable body: the bytes `a`…`z` repeated (copied from one precomputed cycle, so
    /// 100 MB bodies are quick to make).
    private func pattern(_ count: Int) -> [UInt8] {
        let cycle = Self.alphabetCycle
        return [UInt8](unsafeUninitializedCapacity: max(count, 0)) { buffer, initialized in
            var offset = 0
            while offset < buffer.count {
                let take = min(cycle.count, buffer.count - offset)
                cycle.withUnsafeBufferPointer { _ = memcpy(buffer.baseAddress! + offset, $0.baseAddress!, take) }
                offset += take
            }
            initialized = buffer.count
        }
    }

    /// `a`…`z` repeated over 64 KiB + 26 bytes, ending where it began.
    private static let alphabetCycle: [UInt8] = (0..<(26 * 2521)).map { UInt8(97 + $0 % 26) }

    /// `count` bytes of JSON-like records with varying numbers (what an API returns): 64 KiB of
    /// them, repeated.
    private func text(_ count: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        while bytes.count < count { bytes += Self.records.prefix(count - bytes.count) }
        return bytes
    }

    private static let records: [UInt8] = {
        var bytes: [UInt8] = []
        var index = 0
        while bytes.count < 65536 {
            bytes += Array("{\"id\":\(index),\"name\":\"user-\(index * 7919 % 10007)\",\"score\":\(index * 31 % 997)},\n".utf8)
            index += 1
        }
        return Array(bytes.prefix(65536))
    }()
}
