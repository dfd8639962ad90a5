/// `[audit]`: where audit events go.
public struct AuditSettings: Sendable, Equatable {
    /// JSON lines appended here ("" for no file).
    public var file: String
    /// Rotation: past this size the file becomes `<file>.1` (older ones shift up to `maxFiles`).
    public var maxFileSize: Int64
    public var maxFiles: Int
    /// Also write every event on standard output.
    public var stdout: Bool
    /// `XADD` every event to this Redis stream ("" for none; needs `[redis] url`).
    public var redisStream: String
    /// The stream is trimmed to about this many entries (`MAXLEN ~`).
    public var redisStreamMaxLength: Int
    /// Events a worker may have waiting for the control thread before new ones are dropped.
    public var queueSize: Int
}

extension AuditSettings {
    init(reading table: TableReader) {
        defer { table.rejectUnknownKeys() }
        file = table.string("file", default: "")
        maxFileSize = table.size("max_file_size", default: 10 << 20) ?? (10 << 20)
        if maxFileSize < 4096 { table.report("max_file_size", "at least 4KB") }
        maxFiles = table.int("max_files", default: 5, range: 1...100)
        stdout = table.bool("stdout", default: false)
        redisStream = table.string("redis_stream", default: "")
        redisStreamMaxLength = table.int("redis_stream_maxlen", default: 100_000, range: 100...100_000_000)
        queueSize = table.int("queue_size", default: 4096, range: 1...1_000_000)
    }
}
