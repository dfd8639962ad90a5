import Glibc

/// The blocklist as workers see it: an immutable prefix table and the reasons its entries
/// cite. Built by the control thread (`BlocklistStore`) and swapped whole on every change.
final class IPBlocklist: Sendable {
    let table: PrefixTable
    let reasons: [String]

    init(table: PrefixTable, reasons: [String]) {
        self.table = table
        self.reasons = reasons
    }

    static let empty = IPBlocklist(table: PrefixTable(), reasons: [""])

    /// True when `address` is blocked now.
    @inline(__always)
    func blocks(_ address: IPAddress, now: UInt32) -> Bool {
        table.blockingEntry(for: address, now: now) != nil
    }

    /// True when an `allow` entry covers `address` now (exempt from per-address limits too).
    func allows(_ address: IPAddress, now: UInt32) -> Bool {
        table.count > 0 && table.allows(address, now: now)
    }

    /// The current time in the table's unit (epoch seconds).
    static func now() -> UInt32 { UInt32(truncatingIfNeeded: time(nil)) }
}

/// One entry of the blocklist as operators see it (file lines, admin API).
struct BlocklistEntry: Equatable, Sendable {
    var cidr: CIDR
    var allow: Bool
    /// Epoch seconds; 0 for never.
    var expiresAt: UInt32
    var reason: String
}
