import CShims
import Glibc

/// An IPv4 or IPv6 socket address, parsed from `host:port` or `[v6]:port`.
public struct SocketAddress: Sendable, Equatable, CustomStringConvertible {
    /// The raw address as the kernel wants it.
    public private(set) var storage = sockaddr_storage()
    /// The used length of `storage`.
    public private(set) var length: socklen_t = 0
    /// The text it was parsed from, e.g. `127.0.0.1:8080`.
    public let text: String

    public var description: String { text }

    public static func == (lhs: SocketAddress, rhs: SocketAddress) -> Bool { lhs.text == rhs.text }

    /// Parses `host:port`; the host may be an IP literal or a name resolved now (off the hot path).
    public init(parsing text: String) throws(AddressError) {
        self.text = text
        let (host, port) = try Self.split(text)
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, port, &hints, &result)
        guard status == 0, let first = result else {
            throw AddressError("cannot resolve \"\(text)\": \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(result) }
        withUnsafeMutableBytes(of: &storage) { destination in
            destination.copyMemory(from: UnsafeRawBufferPointer(start: first.pointee.ai_addr, count: Int(first.pointee.ai_addrlen)))
        }
        length = first.pointee.ai_addrlen
    }

    /// Builds an address from what `accept` or `getsockname` filled in.
    init(storage: sockaddr_storage, length: socklen_t) {
        self.storage = storage
        self.length = length
        self.text = Self.format(storage)
    }

    /// The port number.
    public var port: Int {
        var copy = storage
        return withUnsafePointer(to: &copy) { pointer in
            pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
        }
    }

    /// The address family (`AF_INET` or `AF_INET6`).
    public var family: Int32 { Int32(storage.ss_family) }

    /// Calls `body` with the address as a `sockaddr` pointer.
    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var copy = storage
        return withUnsafePointer(to: &copy) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }

    /// The IP part only, without brackets: `127.0.0.1` or `::1`.
    public static func ipText(_ storage: sockaddr_storage) -> String {
        var copy = storage
        let isIPv6 = Int32(storage.ss_family) == AF_INET6
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        withUnsafePointer(to: &copy) { pointer in
            if isIPv6 {
                pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                    var raw = address.pointee.sin6_addr
                    _ = inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count))
                }
            } else {
                pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                    var raw = address.pointee.sin_addr
                    _ = inet_ntop(AF_INET, &raw, &text, socklen_t(text.count))
                }
            }
        }
        return String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func format(_ storage: sockaddr_storage) -> String {
        let ip = ipText(storage)
        let address = SocketAddress(rawStorage: storage)
        return Int32(storage.ss_family) == AF_INET6 ? "[\(ip)]:\(address.port)" : "\(ip):\(address.port)"
    }

    private init(rawStorage: sockaddr_storage) {
        storage = rawStorage
        text = ""
    }

    private static func split(_ text: String) throws(AddressError) -> (String, String) {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw AddressError("unterminated IPv6 literal in \"\(text)\"") }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":"), let port = UInt16(rest.dropFirst()) else {
                throw AddressError("expected [ipv6]:port, got \"\(text)\"")
            }
            return (host, String(port))
        }
        guard let colon = text.lastIndex(of: ":"), !text[..<colon].isEmpty,
              let port = UInt16(text[text.index(after: colon)...]) else {
            throw AddressError("expected host:port, got \"\(text)\"")
        }
        return (String(text[..<colon]), String(port))
    }
}

/// A malformed or unresolvable address.
public struct AddressError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
