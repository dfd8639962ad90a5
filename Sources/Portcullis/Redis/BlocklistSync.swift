import Logging

/// Shares blocklist changes between gateway instances through Redis, on the control thread:
/// the whole set lives in the hash `<prefix>blocklist` (field: CIDR, value: `<allow> <expires>
/// <reason>`) and every change is published on `<prefix>blocklist:changes` as `add <cidr> <allow>
/// <expires> <reason>` or `remove <cidr>`. An instance that (re)connects loads the whole hash;
/// while connected it applies every published change at once.
final class BlocklistSync {
    private let commands: RedisClient
    /// A subscriber is one connection even to a cluster: any node hears every PUBLISH.
    private let subscriber: RedisConnection
    private let hashKey: String
    private let channel: String
    private let apply: ([BlocklistStore.Change]) -> Void
    private let log: Logger

    init(settings: RedisSettings, loop: EventLoop, log: Logger, apply: @escaping ([BlocklistStore.Change]) -> Void) {
        hashKey = settings.keyPrefix + "blocklist"
        channel = settings.keyPrefix + "blocklist:changes"
        self.apply = apply
        self.log = log
        commands = settings.makeClient(loop: loop, log: log)
        subscriber = RedisConnection(settings: settings, loop: loop, log: log)
        commands.onReady = { [unowned self] in self.loadAll() }
        subscriber.onReady = { [unowned self] in
            self.subscriber.subscribe(self.channel) { [unowned self] message in self.received(message) }
        }
        commands.start()
        subscriber.start()
    }

    func stop() {
        commands.stop()
        subscriber.stop()
    }

    /// Stores and publishes a change made here. Without Redis now, other instances pick the
    /// entry up from the hash once this one writes it at its next connection: changes are
    /// only lost for others while Redis is down (the local file has them).
    func publish(_ change: BlocklistStore.Change) {
        switch change {
        case .add(let entry):
            let value = Self.value(of: entry)
            commands.send(RedisCommand(keyed: "HSET", hashKey, entry.cidr.description, value)) { _ in }
            commands.send(RedisCommand("PUBLISH", channel, "add \(entry.cidr) \(value)")) { _ in }
        case .remove(let cidr):
            commands.send(RedisCommand(keyed: "HDEL", hashKey, cidr.description)) { _ in }
            commands.send(RedisCommand("PUBLISH", channel, "remove \(cidr)")) { _ in }
        }
    }

    private func loadAll() {
        commands.send(RedisCommand(keyed: "HGETALL", hashKey)) { [unowned self] reply in
            guard case .array(let items)? = reply else { return }
            var changes: [BlocklistStore.Change] = []
            for index in stride(from: 0, to: items.count - 1, by: 2) {
                guard case .bytes(let field) = items[index], case .bytes(let value) = items[index + 1],
                      let entry = Self.entry(cidr: String(decoding: field, as: UTF8.self), value: String(decoding: value, as: UTF8.self)) else { continue }
                changes.append(.add(entry))
            }
            log.info("blocklist: \(changes.count) shared entr\(changes.count == 1 ? "y" : "ies") loaded from Redis")
            apply(changes)
        }
    }

    private func received(_ message: RedisValue) {
        guard case .array(let parts) = message, parts.count == 3, case .bytes(let kind) = parts[0], kind == Array("message".utf8),
              case .bytes(let payload) = parts[2] else { return }
        let text = String(decoding: payload, as: UTF8.self)
        let words = text.split(separator: " ", maxSplits: 2)
        if words.first == "remove", words.count == 2, let cidr = CIDR(String(words[1])) {
            apply([.remove(cidr)])
        } else if words.first == "add", words.count == 3, let entry = Self.entry(cidr: String(words[1]), value: String(words[2])) {
            apply([.add(entry)])
        } else {
            log.warning("blocklist: ignoring a malformed change from Redis: \(text)")
        }
    }

    private static func value(of entry: BlocklistEntry) -> String {
        "\(entry.allow ? 1 : 0) \(entry.expiresAt) \(entry.reason)"
    }

    private static func entry(cidr text: String, value: String) -> BlocklistEntry? {
        let parts = value.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard let cidr = CIDR(text), parts.count >= 2, let allow = Int(parts[0]), let expiresAt = UInt32(parts[1]) else { return nil }
        return BlocklistEntry(cidr: cidr, allow: allow == 1, expiresAt: expiresAt, reason: parts.count == 3 ? String(parts[2]) : "")
    }
}
