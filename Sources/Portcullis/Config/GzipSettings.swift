/// `[gzip]`: compression of responses on the way out.
public struct GzipSettings: Sendable, Equatable {
    public var enabled: Bool
    /// zlib level, 1 (fastest) to 9 (smallest).
    public var level: Int
    /// Responses with a known length under this are sent as they are.
    public var minLength: Int64
    /// Media types compressed (without parameters, lower case).
    public var types: [String]
    /// Compressions running at once per worker (each holds about 270 KB of zlib state); over
    /// this, responses go uncompressed.
    public var maxStreams: Int

    static let defaultTypes = ["text/html", "text/css", "text/plain", "text/javascript", "application/javascript",
                               "application/json", "application/xml", "image/svg+xml"]
}

extension GzipSettings {
    init(reading table: TableReader) {
        defer { table.rejectUnknownKeys() }
        enabled = table.bool("enabled", default: true)
        level = table.int("level", default: 5, range: 1...9)
        minLength = table.size("min_length", default: 1000) ?? 1000
        types = table.strings("types", default: Self.defaultTypes).map { $0.lowercased() }
        for (index, type) in types.enumerated() where !type.contains("/") || type.contains(";") || type.contains(" ") {
            table.report("types[\(index)]", "expected a media type like \"text/html\" (no parameters), got \"\(type)\"")
        }
        maxStreams = table.int("max_streams", default: 256, range: 1...100_000)
    }
}
