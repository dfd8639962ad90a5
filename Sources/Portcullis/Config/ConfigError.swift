/// One problem found in a configuration file, located by line where possible.
public struct ConfigProblem: Sendable, CustomStringConvertible, Equatable {
    /// 1-based line in the file, when known.
    public let line: Int?
    /// The key path, e.g. `upstreams[0].servers`; empty for file-level problems.
    public let key: String
    public let message: String

    public init(line: Int?, key: String, message: String) {
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        let location = line.map { "line \($0): " } ?? ""
        return key.isEmpty ? "\(location)\(message)" : "\(location)\(key): \(message)"
    }
}

/// Every problem found in a configuration file; nothing is applied when there is any.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let problems: [ConfigProblem]

    public init(file: String, problems: [ConfigProblem]) {
        self.file = file
        self.problems = problems
    }

    public var description: String {
        problems.map { "\(file): \($0)" }.joined(separator: "\n")
    }
}
