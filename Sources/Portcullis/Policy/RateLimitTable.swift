/// The process-wide rate-limit counters: one sliding-window counter per (rule, key), shared by
/// every worker. Split into shards, each behind its own lock, so workers rarely meet; every
/// operation is O(1); memory is bounded by `maxKeys` (the least recently used key is evicted
/// first, which is also the first to expire).
///
/// A counter shared through Redis is decided on a lease while Redis is up (`takeLeased`: tokens
/// Redis granted, spent here without a round trip) and on the larger of the local and the
/// fleet's last known view while it is not (`hit`); increments made then reach Redis at the next
/// sync (`takeUnsynced`).
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
    @inline(__always)
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

    /// What a decision on a lease found.
    enum LeaseDecision {
        /// Admitted on a token of this instance's lease; `refill`: the lease runs low, ask for
        /// more now (no request waits for it).
        case admitted(SlidingWindow, refill: Bool)
        /// Redis had no room when last asked, and will have none before the time it gave.
        case rejected(SlidingWindow)
        /// No token here: the request must wait for a lease.
        case needsLease
    }

    /// Spends one token of the lease `key` holds for `window`, if any (a lease of an earlier
    /// window goes back to Redis first).
    func takeLeased(key: UInt64, window: Int64, elapsed: Double, now: Int64, sharedName: UnsafeBufferPointer<UInt8>,
                    windowLength: Int64) -> LeaseDecision {
        shards[Int(key % UInt64(Self.shardCount))].state.withLock { shard in
            let slot = shard.slot(for: key, window: window, sharedName: sharedName, windowLength: windowLength)
            if shard.entries[slot].leaseWindow != window { shard.addTokens(0, to: slot, window: window) }
            let counter = shard.entries[slot]
            guard counter.tokens > 0 else {
                return now < counter.deniedUntil ? .rejected(counter.leaseView(elapsed: elapsed)) : .needsLease
            }
            shard.entries[slot].tokens -= 1
            shard.entries[slot].current += 1
            shard.entries[slot].lastUsed = now
            let refill = !counter.refillPending && (counter.tokens - 1) * 2 <= counter.lastGrant
            if refill { shard.entries[slot].refillPending = true }
            return .admitted(shard.entries[slot].leaseView(elapsed: elapsed), refill: refill)
        }
    }

    /// Stores Redis's answer to a lease request for `window`: `granted` tokens (0 when it had no
    /// room) and the fleet's counts after the grant. With `forRequest` one token goes to the
    /// request that waited for the lease; the result says whether it got one, with the view for
    /// its report. A lease for a window that has already ended here goes straight back.
    func applyLease(key: UInt64, window: Int64, elapsed: Double, now: Int64, granted: Int64, current: Int64, previous: Int64,
                    limit: Int64, sharedName: UnsafeBufferPointer<UInt8>, windowLength: Int64, forRequest: Bool) -> (admitted: Bool, window: SlidingWindow) {
        shards[Int(key % UInt64(Self.shardCount))].state.withLock { shard in
            let admitted = forRequest && granted > 0
            let view = SlidingWindow(current: current, previous: previous, elapsed: elapsed)
            if let slot = shard.index[key], shard.entries[slot].window > window {
                if granted > (admitted ? 1 : 0) {
                    shard.returns.append(LeaseReturn(sharedName: Array(sharedName), window: window, tokens: granted - (admitted ? 1 : 0)))
                }
                return (admitted, view)
            }
            let slot = shard.slot(for: key, window: window, sharedName: sharedName, windowLength: windowLength)
            shard.entries[slot].learn(window: window, current: current, previous: previous)
            shard.addTokens(granted - (admitted ? 1 : 0), to: slot, window: window)
            shard.entries[slot].lastGrant = granted
            shard.entries[slot].lastUsed = now
            if !forRequest { shard.entries[slot].refillPending = false }
            if admitted { shard.entries[slot].current += 1 }
            if granted == 0 {
                shard.entries[slot].deniedUntil = view.nextRoom(limit: limit, windowStart: window * windowLength, windowLength: windowLength)
            }
            return (admitted, shard.entries[slot].leaseView(elapsed: elapsed))
        }
    }

    /// A refill that got no answer: the next spend may ask again.
    func refillFailed(key: UInt64) {
        shards[Int(key % UInt64(Self.shardCount))].state.withLock { shard in
            if let slot = shard.index[key] { shard.entries[slot].refillPending = false }
        }
    }

    /// Moves out the lease tokens to give back from the shards `shardIndices` selects: leases of
    /// ended windows, leases unused for `idleAfter` ns (so other instances can have the tokens),
    /// and those of evicted keys.
    func takeLeaseReturns(shardIndices: some Sequence<Int>, now: Int64, idleAfter: Int64, into returns: inout [LeaseReturn]) {
        for index in shardIndices {
            shards[index].state.withLock { shard in
                shard.expireLeases(now: now, idleAfter: idleAfter)
                returns.append(contentsOf: shard.returns)
                shard.returns.removeAll(keepingCapacity: true)
            }
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

    /// A local counter's counts, as a binary upgrade hands them to the new process. Counters
    /// shared through Redis are not handed over: the new process reads them from Redis.
    struct CarriedCounter: Codable, Equatable {
        let key: UInt64
        let window: Int64
        let current: Int64
        let previous: Int64
    }

    /// Every local counter with counts, least recently used first.
    func localCounters() -> [CarriedCounter] {
        shards.flatMap { shard in
            shard.state.withLock { state in
                var carried: [CarriedCounter] = []
                var slot = state.oldest
                while slot >= 0 {
                    let counter = state.entries[slot]
                    if counter.sharedName.isEmpty && (counter.current > 0 || counter.previous > 0) {
                        carried.append(CarriedCounter(key: counter.key, window: counter.window, current: counter.current, previous: counter.previous))
                    }
                    slot = counter.newer
                }
                return carried
            }
        }
    }

    /// Takes over counters handed over by the process this one replaces, before it serves (a
    /// key already counted here is left as it is).
    func adopt(_ counters: [CarriedCounter]) {
        for carried in counters {
            shards[Int(carried.key % UInt64(Self.shardCount))].state.withLock { shard in
                guard shard.index[carried.key] == nil else { return }
                let slot = shard.slot(for: carried.key, window: carried.window, sharedName: .init(start: nil, count: 0), windowLength: 0)
                shard.entries[slot].current = carried.current
                shard.entries[slot].previous = carried.previous
            }
        }
    }

    private final class Shard: Sendable {
        let state: Locked<ShardState>
        init(capacity: Int) { state = Locked(ShardState(capacity: capacity)) }
    }
}

