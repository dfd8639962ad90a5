
/// The process-wide rate-limit counters: one sliding-window counter per (rule, key), shared by
/// every worker. Split into shards, each behind its own lock, so workers rarely meet; every
/// operation is O(1); memory is bounded by `maxKeys` (the least recently used key is evicted
/// first, which is also the first to expire).
///
/// A counter that is shared through Redis also remembers the fleet-wide counts learned at the
/// last sync and the increments made here since then; its decision uses the larger of the local
/// and the fleet view.
final class RateLimitTable: Sendable {
    static let shardCount = 64
    private let shards: [Shard]

    init(maxKeys: Int) {
        let perShard = max(1, (maxKeys + Self.shardCount - 1) / Self.shardCount)
        shards = (0..<Self.shardCount).map { _ in Shard(capacity: perShard) }
    }

    /// Counts one request for `key` when it fits under `limit` and returns what the counter
    /// looked like. `sharedName` is the Redis name of a counter shared with other instances
    /// (empty for local-only ones) and `windowLength` its window in ns; both are kept only when
    /// the counter is created.
    func hit(key: UInt64, window: Int64, elapsed: Double, limit: Int64, sharedName: UnsafeBufferPointer<UInt8> = .init(start: nil, count: 0),
             windowLength: Int64 = 0) -> (admitted: Bool, window: SlidingWindow) {
        shards[Int(key % UInt64(Self.shardCount))].state.withLock { shard in
            let slot = shard.slot(for: key, window: window, sharedName: sharedName, windowLength: windowLength)
            let view = shard.entries[slot].view(elapsed: elapsed)
            let admitted = view.admits(limit: limit)
            if admitted { shard.count(slot) } else if !shard.entries[slot].sharedName.isEmpty { shard.markDirty(slot) }
            var after = view
            if admitted { after.current += 1 }
            return (admitted, after)
        }
    }

    /// Moves the increments not yet sent to Redis out of the shards
    /// `shardIndices` selects (each worker syncs its own share of the shards).
    func takeUnsynced(shardIndices: some Sequence<Int>, into items: inout [SyncItem]) {
        for index in shardIndices {
            shards[index].state.withLock { shard in shard.takeUnsynced(shard: index, into: &items) }
        }
    }

    /// Stores the fleet-wide counts Redis returned for a synced item.
    func applySynced(_ item: SyncItem, current: Int64, previous: Int64) {
        shards[item.shard].state.withLock { shard in
            guard shard.entries.indices.contains(item.slot), shard.entries[item.slot].key == item.key else { return }
            shard.entries[item.slot].learn(window: item.window, current: current, previous: previous)
        }
    }

    /// Puts back increments whose sync failed, so the next sync sends them.
    func restoreUnsynced(_ item: SyncItem) {
        shards[item.shard].state.withLock { shard in
            guard shard.entries.indices.contains(item.slot), shard.entries[item.slot].key == item.key,
                  shard.entries[item.slot].window == item.window else { return }
            shard.entries[item.slot].unsynced += item.delta
            shard.markDirty(item.slot)
        }
    }

    /// Keys held now (for tests and metrics).
    var keyCount: Int { shards.reduce(0) { total, shard in total + shard.state.withLock { $0.index.count } } }

    /// One counter's increments on their way to Redis.
    struct SyncItem {
        let shard: Int
        let slot: Int
        let key: UInt64
        let window: Int64
        let delta: Int64
        let sharedName: [UInt8]
        let windowLength: Int64
    }

    private final class Shard: Sendable {
        let state: Locked<ShardState>
        init(capacity: Int) { state = Locked(ShardState(capacity: capacity)) }
    }
}

/// One counter.
private struct WindowCounter {
    var key: UInt64
    /// The fixed window `current` belongs to.
    var window: Int64
    var current: Int64 = 0
    var previous: Int64 = 0
    /// Fleet-wide counts from the last sync, for `syncedWindow` and the one before.
    var syncedWindow = Int64.min
    var fleetCurrent: Int64 = 0
    var fleetPrevious: Int64 = 0
    /// Increments in `window` not yet sent to Redis.
    var unsynced: Int64 = 0
    var isDirty = false
    /// Redis name (empty: local only) and window length (ns).
    var sharedName: [UInt8]
    var windowLength: Int64
    /// Least-recently-used list links (slot indices, -1 for none).
    var newer: Int = -1
    var older: Int = -1

    /// Starts a new fixed window when the clock has moved on.
    mutating func advance(to newWindow: Int64) {
        guard newWindow != window else { return }
        previous = newWindow == window + 1 ? current : 0
        current = 0
        unsynced = 0
        window = newWindow
    }

    /// The larger of the local and the fleet view of the sliding window.
    func view(elapsed: Double) -> SlidingWindow {
        var currentCount = current
        var previousCount = previous
        if syncedWindow == window {
            currentCount = max(currentCount, fleetCurrent + unsynced)
            previousCount = max(previousCount, fleetPrevious)
        } else if syncedWindow == window - 1 {
            previousCount = max(previousCount, fleetCurrent)
        }
        return SlidingWindow(current: currentCount, previous: previousCount, elapsed: elapsed)
    }

    mutating func learn(window syncWindow: Int64, current fleetNow: Int64, previous fleetBefore: Int64) {
        guard syncWindow >= syncedWindow else { return }
        syncedWindow = syncWindow
        fleetCurrent = fleetNow
        fleetPrevious = fleetBefore
    }
}

/// One shard: a hash index over a fixed array of counters kept in least-recently-used order.
private struct ShardState {
    var index: [UInt64: Int] = [:]
    var entries: [WindowCounter] = []
    let capacity: Int
    var newest = -1
    var oldest = -1
    var dirty: [Int] = []

    init(capacity: Int) {
        self.capacity = capacity
        index.reserveCapacity(capacity)
        entries.reserveCapacity(capacity)
    }

    /// The slot of `key`'s counter, moved to the front and advanced to `window`; created (or
    /// taken from the least recently used key) when absent.
    mutating func slot(for key: UInt64, window: Int64, sharedName: UnsafeBufferPointer<UInt8>, windowLength: Int64) -> Int {
        if let slot = index[key] {
            unlink(slot)
            pushFront(slot)
            entries[slot].advance(to: window)
            return slot
        }
        let counter = WindowCounter(key: key, window: window, sharedName: Array(sharedName), windowLength: windowLength)
        let slot: Int
        if entries.count < capacity {
            slot = entries.count
            entries.append(counter)
        } else {
            slot = oldest
            unlink(slot)
            index.removeValue(forKey: entries[slot].key)
            entries[slot] = counter
        }
        index[key] = slot
        pushFront(slot)
        return slot
    }

    mutating func count(_ slot: Int) {
        entries[slot].current += 1
        guard !entries[slot].sharedName.isEmpty else { return }
        entries[slot].unsynced += 1
        markDirty(slot)
    }

    mutating func markDirty(_ slot: Int) {
        guard !entries[slot].isDirty else { return }
        entries[slot].isDirty = true
        dirty.append(slot)
    }

    mutating func takeUnsynced(shard: Int, into items: inout [RateLimitTable.SyncItem]) {
        for slot in dirty where entries[slot].isDirty {
            let counter = entries[slot]
            items.append(RateLimitTable.SyncItem(shard: shard, slot: slot, key: counter.key, window: counter.window,
                                                 delta: counter.unsynced, sharedName: counter.sharedName, windowLength: counter.windowLength))
            entries[slot].unsynced = 0
            entries[slot].isDirty = false
        }
        dirty.removeAll(keepingCapacity: true)
    }

    private mutating func unlink(_ slot: Int) {
        let newer = entries[slot].newer
        let older = entries[slot].older
        if newer >= 0 { entries[newer].older = older } else { newest = older }
        if older >= 0 { entries[older].newer = newer } else { oldest = newer }
        entries[slot].newer = -1
        entries[slot].older = -1
    }

    private mutating func pushFront(_ slot: Int) {
        entries[slot].older = newest
        entries[slot].newer = -1
        if newest >= 0 { entries[newest].newer = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
    }
}
