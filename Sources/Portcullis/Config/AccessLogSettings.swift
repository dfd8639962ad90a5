/// `[access_log]`: one line per request, off by default.
public struct AccessLogSettings: Sendable, Equatable {
    /// The log's lines.
    public enum Format: String, Sendable {
        /// One JSON object a line.
        case json
        /// Apache/nginx "combined", with the request id and duration appended.
        case combined
    }

    /// "" turns the access log off.
    public var file: String
    public var format: Format
    public var maxFileSize: Int64
    public var maxFiles: Int
    /// Records a worker may have waiting for the control thread before new ones are dropped.
    public var queueSize: Int
}

extension AccessLogSettings {
    init(reading table: TableReader) {
        defer { table.rejectUnknownKeys() }
        file = table.string("file", default: "")
        let formatText = table.string("format", default: "json")
        format = Format(rawValue: formatText) ?? .json
        if Format(rawValue: formatText) == nil { table.report("format", "must be \"json\" or \"combined\", got \"\(formatText)\"") }
        maxFileSize = table.size("max_file_size", default: 10 << 20) ?? (10 << 20)
        if maxFileSize < 4096 { table.report("max_file_size", "at least 4KB") }
        maxFiles = table.int("max_files", default: 5, range: 1...100)
        queueSize = table.int("queue_size", default: 65536, range: 1...10_000_000)
    }
}
