import Foundation
import TOMLKit

/// Reads, expands, parses and validates a configuration file.
public enum ConfigLoader {
    /// Loads `path`; throws `ConfigError` listing every problem.
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) -> GatewayConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, problems: [ConfigProblem(line: nil, key: "", message: "cannot read the file")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, problems: [ConfigProblem(line: nil, key: "", message: "the file is not UTF-8")])
        }
        return try parse(text: text, file: path, environment: environment)
    }

    /// Parses configuration text (the file's content).
    public static func parse(text: String, file: String, environment: [String: String]) throws(ConfigError) -> GatewayConfig {
        let (expanded, expansionProblems) = EnvironmentExpansion.expand(text, environment: environment)
        guard expansionProblems.isEmpty else { throw ConfigError(file: file, problems: expansionProblems) }
        if let line = TableHeaderCheck.firstInvalidHeader(in: expanded) {
            throw ConfigError(file: file, problems: [ConfigProblem(line: line, key: "", message: "invalid table header: a key must follow [ or [[")])
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: expanded)
        } catch let error as TOMLParseError {
            throw ConfigError(file: file, problems: [ConfigProblem(line: error.source.begin.line, key: "", message: error.description)])
        } catch {
            throw ConfigError(file: file, problems: [ConfigProblem(line: nil, key: "", message: "\(error)")])
        }
        let diagnostics = ConfigDiagnostics(sourceMap: SourceMap(text: text))
        var config = GatewayConfig(reading: TableReader(table, path: "", diagnostics: diagnostics))
        guard diagnostics.problems.isEmpty else { throw ConfigError(file: file, problems: diagnostics.problems) }
        config.warnings = diagnostics.warnings
        return config
    }
}
