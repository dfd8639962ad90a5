/// `[blocklist]`: where the IP blocklist is kept.
public struct BlocklistSettings: Sendable, Equatable {
    /// The blocklist file ("" keeps it in memory only).
    public var file: String
    /// A missing file is an empty blocklist (created at the first change) rather than an error.
    public var optional: Bool
    /// How often expired entries are removed from memory and the file.
    public var pruneInterval: UInt64
}

/// `[client_ip]`: how the client's address is found behind other proxies.
public struct ClientIPSettings: Sendable, Equatable {
    /// Peers whose `X-Forwarded-For` is believed: the client is then the right-most address
    /// in it that is not itself a trusted proxy.
    var trustedProxies: [CIDR]
}

extension BlocklistSettings {
    init(reading table: TableReader) {
        defer { table.rejectUnknownKeys() }
        file = table.string("file", default: "")
        optional = table.bool("optional", default: false)
        pruneInterval = table.duration("prune_interval", default: "1m")
    }
}

extension ClientIPSettings {
    init(reading table: TableReader) {
        defer { table.rejectUnknownKeys() }
        trustedProxies = table.strings("trusted_proxies", default: []).enumerated().compactMap { index, text in
            switch CIDR.parse(text) {
            case .success(let cidr):
                return cidr
            case .failure(let problem):
                table.report("trusted_proxies[\(index)]", problem.description)
                return nil
            }
        }
    }
}
