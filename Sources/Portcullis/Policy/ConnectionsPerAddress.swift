
/// Open client connections per address, shared by every worker (`max_connections_per_ip`):
/// one client cannot take all the gateway's connections. Counted at accept and at close only,
/// never per request; the table is split in stripes, each behind its own lock, so workers
/// accepting at once rarely wait for each other. An address leaves the table at its last close,
/// so memory follows the connections open, not the addresses ever seen.
final class ConnectionsPerAddress: Sendable {
    private static let stripeCount = 64
    private let stripes: [Locked<[IPAddress: Int32]>]

    init() {
        stripes = (0..<Self.stripeCount).map { _ in Locked([:]) }
    }

    /// Counts a new connection from `address` unless it already has `limit` open; true when
    /// counted (the caller must then call `close` exactly once).
    func open(_ address: IPAddress, limit: Int) -> Bool {
        stripe(for: address).withLock { counts in
            let open = counts[address, default: 0]
            guard open < limit else { return false }
            counts[address] = open + 1
            return true
        }
    }

    /// A counted connection from `address` closed.
    func close(_ address: IPAddress) {
        stripe(for: address).withLock { counts in
            guard let open = counts[address] else { return }
            counts[address] = open > 1 ? open - 1 : nil
        }
    }

    private func stripe(for address: IPAddress) -> Locked<[IPAddress: Int32]> {
        stripes[Int(truncatingIfNeeded: (address.high ^ address.low &* 0x9E37_79B9_7F4A_7C15) >> 58) & (Self.stripeCount - 1)]
    }
}
