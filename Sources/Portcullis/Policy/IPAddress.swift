import Glibc

/// An IPv4 or IPv6 address as 128 bits; IPv4 is held as its IPv4-mapped IPv6 form
/// (`::ffff:a.b.c.d`), so one prefix table serves both families and a v4 client on a dual-stack
/// listener is the same address as on a v4 one.
struct IPAddress: Hashable, Sendable {
    var high: UInt64
    var low: UInt64

    static let mappedPrefix: UInt64 = 0x0000_FFFF_0000_0000

    init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    init(v4 address: UInt32) {
        high = 0
        low = Self.mappedPrefix | UInt64(address)
    }

    var isV4: Bool { high == 0 && low & 0xFFFF_FFFF_0000_0000 == Self.mappedPrefix }

    /// Parses `1.2.3.4` or `2001:db8::1` (no brackets, no zone) from bytes.
    init?(text: UnsafeBufferPointer<UInt8>) {
        guard text.count > 0 && text.count < 46 else { return nil }
        var buffer = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        let parsed: IPAddress? = withUnsafeMutableBytes(of: &buffer) { raw in
            let cString = raw.baseAddress!.assumingMemoryBound(to: CChar.self)
            for index in 0..<text.count { cString[index] = CChar(bitPattern: text[index]) }
            cString[text.count] = 0
            return Self.parse(cString)
        }
        guard let parsed else { return nil }
        self = parsed
    }

    init?(_ text: String) {
        guard let parsed = text.withCString({ Self.parse($0) }) else { return nil }
        self = parsed
    }

    private static func parse(_ cString: UnsafePointer<CChar>) -> IPAddress? {
        var v4 = in_addr()
        if inet_pton(AF_INET, cString, &v4) == 1 { return IPAddress(v4: UInt32(bigEndian: v4.s_addr)) }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, cString, &v6) == 1 else { return nil }
        return IPAddress(in6: v6)
    }

    private init(in6 raw: in6_addr) {
        var copy = raw
        let words = withUnsafeBytes(of: &copy) { bytes in
            (bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self), bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        }
        high = UInt64(bigEndian: words.0)
        low = UInt64(bigEndian: words.1)
    }

    /// The address of a peer from `accept`.
    init?(storage: sockaddr_storage) {
        var copy = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            let address = withUnsafePointer(to: &copy) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr } }
            self.init(v4: UInt32(bigEndian: address.s_addr))
        case AF_INET6:
            let address = withUnsafePointer(to: &copy) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr } }
            self.init(in6: address)
        default:
            return nil
        }
    }

    /// The address with every bit after the first `length` (of 128) cleared.
    @inline(__always)
    func masked(to length: Int) -> IPAddress {
        if length >= 128 { return self }
        if length <= 0 { return IPAddress(high: 0, low: 0) }
        if length <= 64 { return IPAddress(high: length == 64 ? high : high & ~(UInt64.max >> UInt64(length)), low: 0) }
        return IPAddress(high: high, low: low & ~(UInt64.max >> UInt64(length - 64)))
    }

    /// `1.2.3.4` or `2001:db8::1`.
    var text: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        if isV4 {
            var raw = in_addr(s_addr: UInt32(truncatingIfNeeded: low).bigEndian)
            _ = inet_ntop(AF_INET, &raw, &buffer, socklen_t(buffer.count))
        } else {
            var raw = in6_addr()
            withUnsafeMutableBytes(of: &raw) { bytes in
                bytes.storeBytes(of: high.bigEndian, toByteOffset: 0, as: UInt64.self)
                bytes.storeBytes(of: low.bigEndian, toByteOffset: 8, as: UInt64.self)
            }
            _ = inet_ntop(AF_INET6, &raw, &buffer, socklen_t(buffer.count))
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// An address block: `203.0.113.0/24`, `2001:db8::/32`, or a single address.
struct CIDR: Hashable, Sendable, CustomStringConvertible {
    /// The network address (host bits cleared).
    let address: IPAddress
    /// Prefix length out of 128 (IPv4 lengths are stored plus 96).
    let length: Int

    init(address: IPAddress, length: Int) {
        self.address = address.masked(to: length)
        self.length = length
    }

    /// Why a text is not a block; each says what is wrong and, where it can, what was meant.
    enum ParseError: Error, Equatable, CustomStringConvertible {
        case notAnAddress(String)
        case badLength(String, maximum: Int)
        case hostBitsSet(String, network: String)

        var description: String {
            switch self {
            case .notAnAddress(let text):
                return "\"\(text)\" is not an IP address (expected a.b.c.d or an IPv6 address, optionally /prefix-length)"
            case .badLength(let text, let maximum):
                return "\"\(text)\": the prefix length must be a number from 0 to \(maximum)"
            case .hostBitsSet(let text, let network):
                return "\"\(text)\" has bits set after the prefix (a probable typo): did you mean \(network)?"
            }
        }
    }

    /// Parses `a.b.c.d[/n]` or `v6[/n]`. The family is the one the text is written in:
    /// `::ffff:127.0.0.0/120` is an IPv6 block (it covers 127.0.0.0/24). Host bits must be zero
    /// (`10.0.0.1/8` is refused as a probable typo).
    static func parse(_ text: String) -> Result<CIDR, ParseError> {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(String(parts[0])) else { return .failure(.notAnAddress(text)) }
        let writtenAsV6 = parts[0].utf8.contains(UInt8(ascii: ":"))
        let maximum = writtenAsV6 ? 128 : 32
        var length = maximum
        if parts.count == 2 {
            let digits = parts[1].utf8
            guard !digits.isEmpty, digits.count <= 3, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                  let parsed = Int(parts[1]), (0...maximum).contains(parsed) else {
                return .failure(.badLength(text, maximum: maximum))
            }
            length = parsed
        }
        let full = writtenAsV6 ? length : length + 96
        guard address.masked(to: full) == address else {
            return .failure(.hostBitsSet(text, network: "\(address.masked(to: full).text)/\(length)"))
        }
        return .success(CIDR(address: address, length: full))
    }

    /// `parse`, without the reason.
    init?(_ text: String) {
        guard case .success(let cidr) = Self.parse(text) else { return nil }
        self = cidr
    }

    /// Covers every address of both families (`0.0.0.0/0` covers all of IPv4).
    var coversEverything: Bool { length == 0 || (address.isV4 && length == 96) }

    func contains(_ other: IPAddress) -> Bool { other.masked(to: length) == address }

    var description: String {
        let shown = address.isV4 ? length - 96 : length
        return shown == (address.isV4 ? 32 : 128) ? address.text : "\(address.text)/\(shown)"
    }
}
