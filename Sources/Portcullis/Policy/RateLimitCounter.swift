/// One (rule, key) counter of the `RateLimitTable`.
///
/// Every counter keeps this instance's own sliding-window counts. A counter shared through
/// Redis also keeps the fleet's counts Redis last returned, the increments made here while
/// Redis was unreachable (sent once it is back), and its lease: tokens Redis granted for one
/// window, which this instance spends without asking again.
struct WindowCounter {
    var key: UInt64
    /// The fixed window `current` belongs to.
    var window: Int64
    var current: Int64 = 0
    var previous: Int64 = 0
    /// Fleet-wide counts from Redis, for `syncedWindow` and the one before.
    var syncedWindow = Int64.min
    var fleetCurrent: Int64 = 0
    var fleetPrevious: Int64 = 0
    /// Increments in `window` Redis has not counted (made while it was unreachable).
    var unsynced: Int64 = 0
    var isDirty = false
    /// Redis name (empty: local only) and window length (ns).
    var sharedName: [UInt8]
    var windowLength: Int64
    /// Tokens left of the lease for `leaseWindow`, and the size of the last grant.
    var leaseWindow = Int64.min
    var tokens: Int64 = 0
    var lastGrant: Int64 = 0
    var refillPending = false
    var isLeased = false
    /// Fleet-clock ns before which Redis will have no room for this key (its last answer).
    var deniedUntil: Int64 = 0
    /// Fleet-clock ns of the last token spent (idle leases go back).
    var lastUsed: Int64 = 0
    /// Least-recently-used list links (slot indices, -1 for none).
    var newer: Int = -1
    var older: Int = -1

    init(key: UInt64, window: Int64, sharedName: [UInt8], windowLength: Int64) {
        self.key = key
        self.window = window
        self.sharedName = sharedName
        self.windowLength = windowLength
    }

    /// Starts a new fixed window when the clock has moved on.
    mutating func advance(to newWindow: Int64) {
        guard newWindow != window else { return }
        previous = newWindow == window + 1 ? current : 0
        current = 0
        unsynced = 0
        window = newWindow
    }

    /// The larger of the local and the fleet view of the sliding window.
    @inline(__always)
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

    /// The fleet's view with this lease's unspent tokens counted as room: what the client has
    /// left as far as this instance knows (Redis counted the whole lease when it granted it).
    func leaseView(elapsed: Double) -> SlidingWindow {
        guard syncedWindow == window else { return view(elapsed: elapsed) }
        return SlidingWindow(current: fleetCurrent - tokens, previous: fleetPrevious, elapsed: elapsed)
    }

    mutating func learn(window syncWindow: Int64, current fleetNow: Int64, previous fleetBefore: Int64) {
        guard syncWindow >= syncedWindow else { return }
        syncedWindow = syncWindow
        fleetCurrent = fleetNow
        fleetPrevious = fleetBefore
    }
}

/// Unspent lease tokens on their way back to Redis.
struct LeaseReturn {
    let sharedName: [UInt8]
    let window: Int64
    let tokens: Int64
}

/// One shard: a hash index over a fixed array of counters kept in least-recently-used order.
struct ShardState {
    var index: [UInt64: Int] = [:]
    var entries: [WindowCounter] = []
    let capacity: Int
    var newest = -1
    var oldest = -1
    var dirty: [Int] = []
    /// Slots that hold lease tokens, and tokens to give back.
    var leased: [Int] = []
    var returns: [LeaseReturn] = []

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
            giveBackLease(slot)
            index.removeValue(forKey: entries[slot].key)
            // The slot may still be listed as dirty or leased: the flags say it is not.
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

    /// Adds tokens to the slot's lease for `window`, giving back what is left of a lease for an
    /// earlier window first.
    mutating func addTokens(_ count: Int64, to slot: Int, window: Int64) {
        if entries[slot].leaseWindow != window {
            giveBackLease(slot)
            entries[slot].leaseWindow = window
        }
        entries[slot].tokens += count
        if entries[slot].tokens > 0 && !entries[slot].isLeased {
            entries[slot].isLeased = true
            leased.append(slot)
        }
    }

    /// Queues the slot's unspent tokens for return to the window they were granted in.
    mutating func giveBackLease(_ slot: Int) {
        let counter = entries[slot]
        guard counter.tokens > 0 else { return }
        returns.append(LeaseReturn(sharedName: counter.sharedName, window: counter.leaseWindow, tokens: counter.tokens))
        entries[slot].tokens = 0
    }

    /// Gives back the leases of a window that has ended, or unused for `idleAfter` ns.
    mutating func expireLeases(now: Int64, idleAfter: Int64) {
        var kept = 0
        for slot in leased {
            let counter = entries[slot]
            if counter.tokens > 0 && (now / counter.windowLength != counter.leaseWindow || now - counter.lastUsed > idleAfter) {
                giveBackLease(slot)
            }
            if entries[slot].tokens > 0 {
                leased[kept] = slot
                kept += 1
            } else {
                entries[slot].isLeased = false
            }
        }
        leased.removeLast(leased.count - kept)
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
