/// A `MOVED` or `ASK` error from a Redis Cluster node: the key's slot lives elsewhere, for
/// good (`MOVED`: update the slot map) or for this one command while the slot migrates
/// (`ASK`: send `ASKING` and the command to that node, keep the map).
struct RedisRedirect: Equatable {
    enum Kind: Equatable {
        case moved
        case ask
    }

    let kind: Kind
    let slot: Int
    /// Empty when the node did not know the address it announces (then: the node that answered).
    let host: String
    let port: Int
}

extension RedisRedirect {
    /// Parses `MOVED 3999 127.0.0.1:6381` or `ASK 3999 [::1]:6381`; nil for any other error.
    init?(_ message: String) {
        let words = message.split(separator: " ")
        guard words.count == 3, let slot = Int(words[1]), (0..<RedisSlot.count).contains(slot),
              let colon = words[2].lastIndex(of: ":"), let port = Int(words[2][words[2].index(after: colon)...]), (1...65535).contains(port)
        else { return nil }
        switch words[0] {
        case "MOVED": kind = .moved
        case "ASK": kind = .ask
        default: return nil
        }
        self.slot = slot
        var host = words[2][..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        self.host = String(host)
        self.port = port
    }
}

/// One line of `CLUSTER SLOTS`: a range of slots and the master that serves it.
struct RedisSlotRange: Equatable {
    let slots: ClosedRange<Int>
    /// Empty when the node did not know its own address (then: the node that answered).
    let host: String
    let port: Int

    /// The ranges of a `CLUSTER SLOTS` reply (`[[start, end, [host, port, id, …], replicas…], …]`),
    /// or nil when it is not one.
    static func ranges(in reply: RedisValue) -> [RedisSlotRange]? {
        guard case .array(let lines) = reply else { return nil }
        var ranges: [RedisSlotRange] = []
        for line in lines {
            guard case .array(let fields) = line, fields.count >= 3, case .integer(let start) = fields[0], case .integer(let end) = fields[1],
                  0 <= start, start <= end, end < RedisSlot.count,
                  case .array(let master) = fields[2], master.count >= 2, case .bytes(let host) = master[0], case .integer(let port) = master[1],
                  (1...65535).contains(port)
            else { return nil }
            ranges.append(RedisSlotRange(slots: Int(start)...Int(end), host: String(decoding: host, as: UTF8.self), port: Int(port)))
        }
        return ranges
    }
}
