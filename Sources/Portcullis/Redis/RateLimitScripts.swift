import COpenSSL

/// The Lua scripts that keep rate-limit counters in Redis. Keys are
/// `<prefix>{rl:<rule>:<key>}:<window number>` (one hash tag per counter, so a Redis Cluster
/// keeps a counter's windows on one node) and expire after two windows.
enum RateLimitScripts {
    /// Sync: adds increments made while Redis was unreachable (ARGV[1], may be 0) to the current
    /// window (KEYS[1]) and returns the fleet's counts of the current and previous (KEYS[2]) windows.
    static let sync = """
        local delta = tonumber(ARGV[1])
        local current
        if delta > 0 then
          current = redis.call('INCRBY', KEYS[1], delta)
          redis.call('PEXPIRE', KEYS[1], ARGV[2])
        else
          current = tonumber(redis.call('GET', KEYS[1]) or '0')
        end
        return {current, tonumber(redis.call('GET', KEYS[2]) or '0')}
        """

    /// Strict mode: one atomic check-and-increment. ARGV: limit, elapsed part of the window
    /// (0–1), TTL in ms. Returns {admitted 0/1, current count, previous count}.
    static let check = """
        local limit = tonumber(ARGV[1])
        local current = tonumber(redis.call('GET', KEYS[1]) or '0')
        local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
        if previous * (1 - tonumber(ARGV[2])) + current + 1 > limit then
          return {0, current, previous}
        end
        current = redis.call('INCR', KEYS[1])
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        return {1, current, previous}
        """

    /// Batched mode: a lease of tokens, counted in the current window at once, so the fleet never
    /// admits more than the limit; a sixteenth of the room left, at least one token while any
    /// is left, so leases shrink as the key nears its limit. The grant is recorded under the
    /// lease's id in the window's lease hash (KEYS[3]) so that a lease whose answer is lost can
    /// be reclaimed; an id already there was reclaimed before this ran and gets nothing.
    /// ARGV: limit, elapsed part of the window (0–1), TTL in ms, lease id.
    /// Returns {tokens granted (0: no room), current, previous}.
    static let lease = """
        local limit = tonumber(ARGV[1])
        local current = tonumber(redis.call('GET', KEYS[1]) or '0')
        local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
        local room = math.floor(limit - previous * (1 - tonumber(ARGV[2])) - current)
        if room < 1 or redis.call('HEXISTS', KEYS[3], ARGV[4]) == 1 then
          return {0, current, previous}
        end
        local grant = math.max(1, math.floor(room / 16))
        current = redis.call('INCRBY', KEYS[1], grant)
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        redis.call('HSET', KEYS[3], ARGV[4], grant)
        redis.call('PEXPIRE', KEYS[3], ARGV[3])
        return {grant, current, previous}
        """

    /// Reclaims a lease whose answer never arrived (ARGV[1]: its id): what the lease script
    /// recorded for it goes back to the window (KEYS[1]), never below zero, and the id stays
    /// recorded with 0 so the script, should it run only now, grants nothing. ARGV[2]: TTL in
    /// ms. Returns the tokens given back.
    static let reclaim = """
        local granted = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
        redis.call('HSET', KEYS[2], ARGV[1], 0)
        redis.call('PEXPIRE', KEYS[2], ARGV[2])
        local back = math.min(tonumber(redis.call('GET', KEYS[1]) or '0'), granted)
        if back > 0 then
          redis.call('DECRBY', KEYS[1], back)
        end
        return back
        """

    /// Gives back a lease's unspent tokens (ARGV[1]) to the window they were counted in
    /// (KEYS[1]), never below zero, and only while that window's counter exists.
    static let giveBack = """
        local current = tonumber(redis.call('GET', KEYS[1]) or '0')
        local back = math.min(current, tonumber(ARGV[1]))
        if back > 0 then
          redis.call('DECRBY', KEYS[1], back)
        end
        return back
        """

    static let syncSHA = sha1Hex(sync)
    static let checkSHA = sha1Hex(check)
    static let leaseSHA = sha1Hex(lease)
    static let giveBackSHA = sha1Hex(giveBack)
    static let reclaimSHA = sha1Hex(reclaim)

    /// `SCRIPT LOAD` for each, sent after every connection.
    static let loadCommands = [sync, check, lease, giveBack, reclaim].map { RedisCommand("SCRIPT", "LOAD", $0) }

    /// Redis names a script by the SHA-1 of its text.
    static func sha1Hex(_ text: String) -> String {
        var digest = [UInt8](repeating: 0, count: Int(SHA_DIGEST_LENGTH))
        let bytes = Array(text.utf8)
        SHA1(bytes, bytes.count, &digest)
        return digest.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// The command running `script` by SHA (or by its text after a `NOSCRIPT`).
    static func command(sha: String, script: String, byText: Bool, keys: [[UInt8]], arguments: [[UInt8]]) -> RedisCommand {
        let head: [[UInt8]] = [Array((byText ? "EVAL" : "EVALSHA").utf8), Array((byText ? script : sha).utf8), Array(String(keys.count).utf8)]
        return RedisCommand(head + keys + arguments, keyAt: keys.isEmpty ? nil : head.count)
    }
}
