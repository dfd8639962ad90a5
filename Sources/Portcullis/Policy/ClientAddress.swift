/// The client a request is decided for: the peer, or the client behind trusted proxies.
struct ClientIdentity {
    var address = IPAddress(high: 0, low: 0)
    /// The address as text, as audit events, `X-Real-IP` and rate-limit keys carry it.
    var text: [UInt8] = []
    /// The peer is one of `trusted_proxies`: its `X-Forwarded-For` and `Forwarded` are believed.
    var peerIsTrustedProxy = false
}

/// Finds the client behind trusted proxies: when the peer is one of `trusted_proxies`, the
/// client is the right-most `X-Forwarded-For` entry that is not itself trusted (entries to its
/// left were written by whoever the client is, and prove nothing). Otherwise the peer.
enum ClientAddress {
    /// Resolves a request's client into `client` (its text buffer reused).
    static func resolve(peer: IPAddress, peerText: [UInt8], head: RequestHead, source: UnsafePointer<UInt8>, trusted: [CIDR],
                        into client: inout ClientIdentity) {
        client.text.removeAll(keepingCapacity: true)
        client.peerIsTrustedProxy = !trusted.isEmpty && trusted.contains(where: { $0.contains(peer) })
        if client.peerIsTrustedProxy {
            // Right to left across the lines as well as within them; the first entry that is not
            // an address ends the walk (labelled: a bare `break` would move on to earlier lines,
            // which the client wrote). Empty list elements are skipped (RFC 9110 §5.6.1).
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
                        client.text.append(contentsOf: item)
                        client.address = address
                        return
                    }
                    end = itemStart - 1
                }
            }
        }
        client.text.append(contentsOf: peerText)
        client.address = peer
    }
}
