import Glibc

/// The control thread's copy of the blocklist: applies changes (file load, admin API, auto-ban,
/// other instances through Redis), writes the file before a change is acknowledged, and hands
/// out immutable `IPBlocklist` values for the workers.
final class BlocklistStore {
    /// The file entries are loaded from and written to ("" for none: changes live in memory).
    let path: String
    private var table: PrefixTable
    private var reasons: [String] = [""]
    private var reasonIndex: [String: UInt32] = ["": 0]
    /// The value last handed out; rebuilt after a change.
    private var published: IPBlocklist?

    /// A blocklist file that cannot be read or parsed.
    struct LoadError: Error, CustomStringConvertible {
        let description: String
    }

    /// Loads `path`. A missing file is an error, like a malformed one (a reload must never empty
    /// the blocklist because its file went away), unless `optional`: then it is an empty
    /// blocklist, and the file is created at the first change.
    init(path: String, optional: Bool = false) throws(LoadError) {
        self.path = path
        table = PrefixTable()
        guard !path.isEmpty else { return }
        let bytes: [UInt8]
        do {
            bytes = try FileIO.readAll(path: path)
        } catch {
            if error.code == ENOENT && optional { return }
            let hint = error.code == ENOENT ? " (create it, empty, or set [blocklist] optional = true)" : ""
            throw LoadError(description: "cannot read the blocklist \(path): \(error)\(hint)")
        }
        var loaded = PrefixTable(capacity: bytes.reduce(0) { $1 == ASCII.lf ? $0 + 1 : $0 })
        let errors = BlocklistFile.parse(bytes) { entry in loaded.insert(tableEntry(entry)) }
        guard errors.isEmpty else {
            throw LoadError(description: "\(path) has \(errors.count) invalid line(s):\n"
                            + errors.prefix(20).map { "  \(path):\($0)" }.joined(separator: "\n"))
        }
        table = loaded
    }

    /// An empty blocklist without a file.
    static var inMemory: BlocklistStore { try! BlocklistStore(path: "") }

    /// Entries held (expired ones included until pruned).
    var count: Int { table.count }

    /// The blocklist for workers.
    var current: IPBlocklist {
        if let published { return published }
        let made = IPBlocklist(table: table, reasons: reasons)
        published = made
        return made
    }

    func entry(for cidr: CIDR) -> BlocklistEntry? { table.entry(for: cidr).map(blocklistEntry) }

    /// A page of entries for the admin API.
    func page(from cursor: Int, limit: Int) -> (entries: [BlocklistEntry], next: Int?) {
        let page = table.page(from: cursor, limit: limit)
        return (page.entries.map(blocklistEntry), page.next)
    }

    /// One change to the blocklist.
    enum Change {
        case add(BlocklistEntry)
        case remove(CIDR)
    }

    /// Applies changes with one write of the file (on a write error nothing changes); returns
    /// the changes that made a difference (an identical entry or a missing one makes none).
    @discardableResult
    func apply(_ changes: [Change]) throws(SystemError) -> [Change] {
        var changed = table
        var effective: [Change] = []
        for change in changes {
            switch change {
            case .add(let entry):
                let stored = tableEntry(entry)
                guard changed.entry(for: entry.cidr) != stored else { continue }
                changed.insert(stored)
            case .remove(let cidr):
                guard changed.remove(cidr) else { continue }
            }
            effective.append(change)
        }
        if !effective.isEmpty { try commit(changed) }
        return effective
    }

    /// The entries expired at `now` (epoch seconds), for pruning.
    func expired(at now: UInt32) -> [CIDR] { table.expired(at: now) }

    private func commit(_ changed: PrefixTable) throws(SystemError) {
        if !path.isEmpty {
            try AtomicFile.write(BlocklistFile.render(changed.allEntries.map(blocklistEntry)), to: path)
        }
        table = changed
        published = nil
    }

    private func tableEntry(_ entry: BlocklistEntry) -> PrefixTable.Entry {
        PrefixTable.Entry(cidr: entry.cidr, allow: entry.allow, expiresAt: entry.expiresAt, reason: intern(entry.reason))
    }

    private func blocklistEntry(_ entry: PrefixTable.Entry) -> BlocklistEntry {
        BlocklistEntry(cidr: entry.cidr, allow: entry.allow, expiresAt: entry.expiresAt,
                       reason: Int(entry.reason) < reasons.count ? reasons[Int(entry.reason)] : "")
    }

    /// Reasons are stored once each; past 8 million distinct reasons new ones are not kept.
    private func intern(_ reason: String) -> UInt32 {
        if let index = reasonIndex[reason] { return index }
        guard reasons.count < 0x7F_FFFF else { return 0 }
        let index = UInt32(reasons.count)
        reasons.append(reason)
        reasonIndex[reason] = index
        return index
    }
}
