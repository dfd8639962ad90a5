/// Finds the client behind trusted proxies: when the peer is one of `trusted_proxies`, the
/// client is the right-most `X-Forwarded-For` entry that is not itself trusted (entries to its
/// left were written by whoever the client is, and prove nothing). Otherwise the peer.
enum ClientAddress {
    /// Resolves the current request's client, storing its text in `connection.clientIP`.
    static func resolve(connection: ClientConnection, head: RequestHead, source: UnsafePointer<UInt8>, trusted: [CIDR]) -> IPAddress {
        connection.clientIP.removeAll(keepingCapacity: true)
        connection.peerIsTrustedProxy = !trusted.isEmpty && trusted.contains(where: { $0.contains(connection.peerAddress) })
        guard connection.peerIsTrustedProxy else {
            connection.clientIP.append(contentsOf: connection.forwarding.peerIP)
            return connection.peerAddress
        }
        // Right to left across the lines as well as within them; the first entry that is not an
        // address ends the walk (labelled: a bare `break` would move on to earlier lines, which
        // the client wrote). Empty list elements are skipped (RFC 9110 §5.6.1).
        entries: for field in head.fields.reversed() where field.kind == .xForwardedFor {
            var end = Int(field.valueEnd)
            let start = Int(field.valueStart)
            while end > start {
                var itemStart = end
                while itemStart > start && source[itemStart - 1] != ASCII.comma { itemStart -= 1 }
                var first = itemStart
                var last = end
                while first < last && (source[first] == ASCII.space || source[first] == ASCII.tab) { first += 1 }
                while last > first && (source[last - 1] == ASCII.space || source[last - 1] == ASCII.tab) { last -= 1 }
                let item = UnsafeBufferPointer(start: source + first, count: last - first)
                if item.isEmpty {
                    end = itemStart - 1
                    continue
                }
                // Not an address: no proxy of ours wrote it; fall back to the peer.
                guard let address = IPAddress(text: item) else { break entries }
                if !trusted.contains(where: { $0.contains(address) }) {
                    connection.clientIP.append(contentsOf: item)
                    return address
                }
                end = itemStart - 1
            }
        }
        connection.clientIP.append(contentsOf: connection.forwarding.peerIP)
        return connection.peerAddress
    }
}
