import COpenSSL
import Foundation
import Glibc

/// A minimal WebSocket (RFC 6455) echo: the handshake, then every text or binary frame sent
/// back unmasked until a close frame or the end of the connection.
enum WebSocketEcho {
    /// Serves the connection to its end; returns false (the connection is finished).
    static func serve(_ request: OriginConnection.Request, fd: Int32, pending: [UInt8]) -> Bool {
        guard let key = request.header("sec-websocket-key") else {
            _ = OriginConnection.writeAll(fd, Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".utf8))
            return false
        }
        let accept = acceptValue(for: key)
        let response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\n\r\n"
        guard OriginConnection.writeAll(fd, Array(response.utf8)) else { return false }
        var buffer = pending
        while true {
            guard let frame = nextFrame(&buffer, fd: fd) else { return false }
            if frame.opcode == 8 {
                _ = OriginConnection.writeAll(fd, [0x88, 0])
                return false
            }
            var header: [UInt8] = [0x80 | frame.opcode]
            if frame.payload.count < 126 {
                header.append(UInt8(frame.payload.count))
            } else {
                header += [126, UInt8(frame.payload.count >> 8), UInt8(frame.payload.count & 0xFF)]
            }
            guard OriginConnection.writeAll(fd, header + frame.payload) else { return false }
        }
    }

    private static func acceptValue(for key: String) -> String {
        let input = Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8)
        var digest = [UInt8](repeating: 0, count: 20)
        _ = SHA1(input, input.count, &digest)
        return Data(digest).base64EncodedString()
    }

    private static func nextFrame(_ buffer: inout [UInt8], fd: Int32) -> (opcode: UInt8, payload: [UInt8])? {
        func need(_ count: Int) -> Bool {
            while buffer.count < count {
                var chunk = [UInt8](repeating: 0, count: 65536)
                let received = recv(fd, &chunk, chunk.count, 0)
                guard received > 0 else { return false }
                buffer += chunk[0..<received]
            }
            return true
        }
        guard need(2) else { return nil }
        let opcode = buffer[0] & 0x0F
        var length = Int(buffer[1] & 0x7F)
        var offset = 2
        if length == 126 {
            guard need(4) else { return nil }
            length = Int(buffer[2]) << 8 | Int(buffer[3])
            offset = 4
        } else if length == 127 {
            return nil
        }
        let masked = buffer[1] & 0x80 != 0
        guard need(offset + (masked ? 4 : 0) + length) else { return nil }
        let mask = masked ? Array(buffer[offset..<(offset + 4)]) : [0, 0, 0, 0]
        offset += masked ? 4 : 0
        let payload = (0..<length).map { buffer[offset + $0] ^ mask[$0 % 4] }
        buffer.removeFirst(offset + length)
        return (opcode, payload)
    }
}
