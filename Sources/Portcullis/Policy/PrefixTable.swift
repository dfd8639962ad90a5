/// An open-addressing hash table of address blocks, the blocklist's lookup structure: 24 bytes
/// a slot (network address, prefix length, flags, reason, expiry), at most 60% full, so about
/// 40–50 bytes per entry. A lookup probes once per prefix length in use, longest first.
///
/// A value type: the control thread copies it, changes the copy and publishes it; workers only
/// read their immutable copy.
struct PrefixTable: Sendable {
    /// What the table says about one block.
    struct Entry: Equatable, Sendable {
        var cidr: CIDR
        /// An allowlist entry (overrides every block entry).
        var allow: Bool
        /// Epoch seconds after which the entry is ignored; 0 for never.
        var expiresAt: UInt32
        /// Index into the blocklist's reasons.
        var reason: UInt32
    }

    private var highs: [UInt64]
    private var lows: [UInt64]
    /// bits 0–7 prefix length (0xFF: empty slot), bit 8 allow, bits 9–31 reason, bits 32–63 expiry.
    private var metas: [UInt64]
    private var mask: Int
    private(set) var count = 0
    /// Entries per prefix length, and a bitmap of the lengths in use, for blocks and allows.
    private var blockLengths = LengthSet()
    private var allowLengths = LengthSet()

    private static let emptyMeta: UInt64 = 0xFF

    init(capacity: Int = 16) {
        var slots = 16
        while Double(slots) * 0.6 < Double(capacity) { slots <<= 1 }
        highs = [UInt64](repeating: 0, count: slots)
        lows = [UInt64](repeating: 0, count: slots)
        metas = [UInt64](repeating: Self.emptyMeta, count: slots)
        mask = slots - 1
    }

    /// Bytes used by the slots.
    var memoryBytes: Int { (mask + 1) * 24 }

    /// The block that applies to `address` at `now` (epoch seconds): the longest unexpired block
    /// entry, unless an unexpired allow entry covers the address too. Nil when not blocked.
    @inline(__always)
    func blockingEntry(for address: IPAddress, now: UInt32) -> Int? {
        guard count > 0 else { return nil }
        var found: Int?
        blockLengths.forEachDescending { length in
            guard let slot = find(address.masked(to: length), length: length), !isAllow(slot), isLive(slot, now: now) else { return true }
            found = slot
            return false
        }
        guard let slot = found else { return nil }
        return allows(address, now: now) ? nil : slot
    }

    /// True when an unexpired allow entry covers `address`.
    @inline(__always)
    func allows(_ address: IPAddress, now: UInt32) -> Bool {
        var allowed = false
        allowLengths.forEachDescending { length in
            // The slot for this network and length may hold a block: only an allow entry counts.
            if let allowSlot = find(address.masked(to: length), length: length), isAllow(allowSlot), isLive(allowSlot, now: now) {
                allowed = true
                return false
            }
            return true
        }
        return allowed
    }

    /// Adds or replaces the entry for `entry.cidr`.
    mutating func insert(_ entry: Entry) {
        if let slot = find(entry.cidr.address, length: entry.cidr.length) {
            removeSlot(slot)
        }
        if Double(count + 1) > Double(mask + 1) * 0.6 { grow() }
        place(entry)
    }

    /// Removes the entry for `cidr`; false when there is none.
    @discardableResult
    mutating func remove(_ cidr: CIDR) -> Bool {
        guard let slot = find(cidr.address, length: cidr.length) else { return false }
        removeSlot(slot)
        return true
    }

    /// The entry for exactly this block.
    func entry(for cidr: CIDR) -> Entry? {
        find(cidr.address, length: cidr.length).map(entry(at:))
    }

    /// The entry at a slot index returned by `blockingEntry`.
    func entry(at slot: Int) -> Entry {
        let meta = metas[slot]
        return Entry(cidr: CIDR(address: IPAddress(high: highs[slot], low: lows[slot]), length: Int(meta & 0xFF)),
                     allow: meta & 0x100 != 0, expiresAt: UInt32(meta >> 32), reason: UInt32((meta >> 9) & 0x7F_FFFF))
    }

    /// Up to `limit` entries from slot `cursor` on, and the cursor of the next page (nil at the end).
    func page(from cursor: Int, limit: Int) -> (entries: [Entry], next: Int?) {
        var entries: [Entry] = []
        var slot = max(0, cursor)
        while slot <= mask && entries.count < limit {
            if metas[slot] != Self.emptyMeta { entries.append(entry(at: slot)) }
            slot += 1
        }
        while slot <= mask && metas[slot] == Self.emptyMeta { slot += 1 }
        return (entries, slot <= mask ? slot : nil)
    }

    /// The blocks whose expiry has passed at `now` (a scan of the slots, no entry copies).
    func expired(at now: UInt32) -> [CIDR] {
        (0...mask).compactMap { slot in
            metas[slot] != Self.emptyMeta && !isLive(slot, now: now) ? entry(at: slot).cidr : nil
        }
    }

    /// Every entry (for writing the file).
    var allEntries: [Entry] { (0...mask).filter { metas[$0] != Self.emptyMeta }.map(entry(at:)) }

    // MARK: Slots

    @inline(__always)
    private func isAllow(_ slot: Int) -> Bool { metas[slot] & 0x100 != 0 }

    @inline(__always)
    private func isLive(_ slot: Int, now: UInt32) -> Bool {
        let expiry = UInt32(metas[slot] >> 32)
        return expiry == 0 || expiry > now
    }

    @inline(__always)
    private static func hash(_ address: IPAddress, _ length: Int) -> Int {
        var value = address.high &* 0x9E37_79B9_7F4A_7C15 ^ address.low ^ UInt64(length) &* 0xC2B2_AE3D_27D4_EB4F
        value ^= value >> 33
        value = value &* 0xFF51_AFD7_ED55_8CCD
        value ^= value >> 33
        return Int(truncatingIfNeeded: value)
    }

    @inline(__always)
    private func find(_ address: IPAddress, length: Int) -> Int? {
        var slot = Self.hash(address, length) & mask
        while true {
            let meta = metas[slot]
            if meta == Self.emptyMeta { return nil }
            if Int(meta & 0xFF) == length && lows[slot] == address.low && highs[slot] == address.high { return slot }
            slot = (slot + 1) & mask
        }
    }

    private mutating func place(_ entry: Entry) {
        var slot = Self.hash(entry.cidr.address, entry.cidr.length) & mask
        while metas[slot] != Self.emptyMeta { slot = (slot + 1) & mask }
        highs[slot] = entry.cidr.address.high
        lows[slot] = entry.cidr.address.low
        metas[slot] = UInt64(entry.cidr.length) | (entry.allow ? 0x100 : 0) | UInt64(min(entry.reason, 0x7F_FFFF)) << 9
            | UInt64(entry.expiresAt) << 32
        count += 1
        if entry.allow { allowLengths.add(entry.cidr.length) } else { blockLengths.add(entry.cidr.length) }
    }

    /// Linear-probing deletion by backward shift: no tombstones, lookups stay short.
    private mutating func removeSlot(_ slot: Int) {
        let length = Int(metas[slot] & 0xFF)
        if isAllow(slot) { allowLengths.remove(length) } else { blockLengths.remove(length) }
        count -= 1
        var hole = slot
        var next = (hole + 1) & mask
        while metas[next] != Self.emptyMeta {
            let home = Self.hash(IPAddress(high: highs[next], low: lows[next]), Int(metas[next] & 0xFF)) & mask
            // Move `next` into the hole unless its home lies cyclically in (hole, next].
            let distanceToNext = (next - home) & mask
            let distanceToHole = (hole - home) & mask
            if distanceToHole < distanceToNext {
                highs[hole] = highs[next]
                lows[hole] = lows[next]
                metas[hole] = metas[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        metas[hole] = Self.emptyMeta
    }

    private mutating func grow() {
        let old = allEntries
        self = PrefixTable(capacity: max(16, (mask + 1)))
        for entry in old { place(entry) }
    }
}

/// The prefix lengths (0–128) in use, with how many entries use each.
private struct LengthSet: Sendable {
    private var counts = [Int32](repeating: 0, count: 129)
    private var bits: (UInt64, UInt64, UInt64) = (0, 0, 0)

    mutating func add(_ length: Int) {
        counts[length] += 1
        if counts[length] == 1 { setBit(length, true) }
    }

    mutating func remove(_ length: Int) {
        counts[length] -= 1
        if counts[length] == 0 { setBit(length, false) }
    }

    private mutating func setBit(_ length: Int, _ on: Bool) {
        let bit = UInt64(1) << UInt64(length & 63)
        switch length >> 6 {
        case 0: bits.0 = on ? bits.0 | bit : bits.0 & ~bit
        case 1: bits.1 = on ? bits.1 | bit : bits.1 & ~bit
        default: bits.2 = on ? bits.2 | bit : bits.2 & ~bit
        }
    }

    /// Calls `body` with each length in use, longest first, until it returns false.
    @inline(__always)
    func forEachDescending(_ body: (Int) -> Bool) {
        guard Self.walk(bits.2, base: 128, body), Self.walk(bits.1, base: 64, body) else { return }
        _ = Self.walk(bits.0, base: 0, body)
    }

    @inline(__always)
    private static func walk(_ word: UInt64, base: Int, _ body: (Int) -> Bool) -> Bool {
        var remaining = word
        while remaining != 0 {
            let top = 63 - remaining.leadingZeroBitCount
            if !body(base + top) { return false }
            remaining &= ~(UInt64(1) << UInt64(top))
        }
        return true
    }
}
