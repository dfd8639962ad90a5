import Foundation
import TOMLKit

/// Collects problems while a configuration is read, with their lines.
final class ConfigDiagnostics {
    let sourceMap: SourceMap
    private(set) var problems: [ConfigProblem] = []
    /// Valid but probably not what was meant (shown by `portcullis check` and logged at start).
    private(set) var warnings: [ConfigProblem] = []

    init(sourceMap: SourceMap) {
        self.sourceMap = sourceMap
    }

    /// Records a problem at `path`.
    func report(_ path: String, _ message: String) {
        problems.append(ConfigProblem(line: sourceMap.line(of: path), key: path, message: message))
    }

    /// Records a warning at `path`.
    func warn(_ path: String, _ message: String) {
        warnings.append(ConfigProblem(line: sourceMap.line(of: path), key: path, message: message))
    }
}

/// Reads typed values from one TOML table, recording wrong types, impossible values and
/// unknown keys instead of stopping at the first one, so `portcullis check` lists them all.
final class TableReader {
    let path: String
    private let table: TOMLTable
    private let diagnostics: ConfigDiagnostics
    private var known: Set<String> = []

    init(_ table: TOMLTable, path: String, diagnostics: ConfigDiagnostics) {
        self.table = table
        self.path = path
        self.diagnostics = diagnostics
    }

    /// The full path of `key` in this table.
    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// Records a problem with `key`.
    func report(_ key: String, _ message: String) { diagnostics.report(keyPath(key), message) }
    func warn(_ key: String, _ message: String) { diagnostics.warn(keyPath(key), message) }

    private func value(_ key: String) -> TOMLValueConvertible? {
        known.insert(key)
        return table[key]
    }

    func string(_ key: String, default fallback: String) -> String {
        optionalString(key) ?? fallback
    }

    func optionalString(_ key: String) -> String? {
        guard let raw = value(key) else { return nil }
        guard let text = raw.string else {
            report(key, "expected a string, got \(raw.type)")
            return nil
        }
        return text
    }

    /// True when `key` is present.
    func contains(_ key: String) -> Bool { table[key] != nil }

    /// True when `key` is present and holds a string (for keys taking a word or a number).
    func holdsString(_ key: String) -> Bool {
        table[key]?.string != nil
    }

    func bool(_ key: String, default fallback: Bool) -> Bool {
        guard let raw = value(key) else { return fallback }
        guard let flag = raw.bool else {
            report(key, "expected true or false, got \(raw.type)")
            return fallback
        }
        return flag
    }

    /// A flag that may be absent (nil).
    func optionalBool(_ key: String) -> Bool? {
        guard table[key] != nil else {
            _ = value(key)
            return nil
        }
        return bool(key, default: false)
    }

    /// The keys present in this table (marked as known: the caller reads each one).
    var keys: [String] {
        let present = table.keys.sorted()
        known.formUnion(present)
        return present
    }

    func int(_ key: String, default fallback: Int, range: ClosedRange<Int>) -> Int {
        guard let raw = value(key) else { return fallback }
        guard let number = raw.int else {
            report(key, "expected an integer, got \(raw.type)")
            return fallback
        }
        guard range.contains(number) else {
            report(key, "must be between \(range.lowerBound) and \(range.upperBound), got \(number)")
            return fallback
        }
        return number
    }

    /// A duration such as `"250ms"`, `"10s"`, `"5m"` or `"1h"`, in nanoseconds; zero only
    /// where `allowZero` (a feature turned off).
    func duration(_ key: String, default fallback: String, allowZero: Bool = false) -> UInt64 {
        let text = optionalString(key) ?? fallback
        guard let nanoseconds = Self.parseDuration(text), nanoseconds > 0 || allowZero else {
            let kind = allowZero ? "a duration" : "a positive duration"
            report(key, "expected \(kind) like \"50us\", \"500ms\", \"10s\", \"5m\" or \"1h\", got \"\(text)\"")
            return Self.parseDuration(fallback) ?? 1_000_000_000
        }
        return nanoseconds
    }

    /// A byte size: an integer, or a string like `"512"`, `"2KB"`, `"10MB"`, `"1GB"` (powers of 1024).
    func size(_ key: String, default fallback: Int64) -> Int64? {
        guard let raw = value(key) else { return nil }
        if let number = raw.int, number >= 0 { return Int64(number) }
        if let text = raw.string, let bytes = Self.parseSize(text) { return bytes }
        report(key, "expected a size like 2048, \"2KB\", \"10MB\" or \"1GB\", got \(raw.debugDescription)")
        return fallback
    }

    /// Parses `"512"`, `"2KB"`, `"10MB"`, `"1GB"` into bytes (powers of 1024).
    static func parseSize(_ text: String) -> Int64? {
        let units: [(String, Int64)] = [("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30), ("B", 1)]
        for (suffix, scale) in units where text.uppercased().hasSuffix(suffix) {
            guard let amount = Int64(text.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), amount >= 0,
                  amount <= Int64.max / scale else { return nil }
            return amount * scale
        }
        return Int64(text)
    }

    func strings(_ key: String, default fallback: [String]) -> [String] {
        guard let raw = value(key) else { return fallback }
        guard let array = raw.array else {
            report(key, "expected an array of strings, got \(raw.type)")
            return fallback
        }
        var result: [String] = []
        for (index, element) in array.enumerated() {
            guard let text = element.string else {
                report("\(key)[\(index)]", "expected a string, got \(element.type)")
                continue
            }
            result.append(text)
        }
        return result
    }

    /// Stands in for absent sections. One for the process: TOMLKit never frees the table a
    /// `TOMLTable()` allocates, so making one per absent section leaked at every load and
    /// reload (found by fuzzing the config loader under LeakSanitizer).
    nonisolated(unsafe) private static let emptyTable = TOMLTable()

    /// A sub-table; absent means every key takes its default.
    func table(_ key: String) -> TableReader {
        guard let raw = value(key) else {
            return TableReader(Self.emptyTable, path: keyPath(key), diagnostics: diagnostics)
        }
        guard let subtable = raw.table else {
            report(key, "expected a table, got \(raw.type)")
            return TableReader(Self.emptyTable, path: keyPath(key), diagnostics: diagnostics)
        }
        return TableReader(subtable, path: keyPath(key), diagnostics: diagnostics)
    }

    /// An array of tables (`[[key]]`).
    func tables(_ key: String) -> [TableReader] {
        guard let raw = value(key) else { return [] }
        guard let array = raw.array else {
            report(key, "expected an array of tables ([[\(key)]]), got \(raw.type)")
            return []
        }
        var result: [TableReader] = []
        for (index, element) in array.enumerated() {
            guard let subtable = element.table else {
                report("\(key)[\(index)]", "expected a table, got \(element.type)")
                continue
            }
            result.append(TableReader(subtable, path: "\(keyPath(key))[\(index)]", diagnostics: diagnostics))
        }
        return result
    }

    /// Reports every key of this table that no reader asked for.
    func rejectUnknownKeys() {
        for key in table.keys where !known.contains(key) {
            diagnostics.report(keyPath(key), "unknown key")
        }
    }

    /// Parses `"50us"`, `"250ms"`, `"10s"`, `"5m"`, `"1h"` into nanoseconds.
    static func parseDuration(_ text: String) -> UInt64? {
        let units: [(String, UInt64)] = [("us", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000), ("m", 60_000_000_000),
                                         ("h", 3_600_000_000_000)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let amount = UInt64(text.dropLast(suffix.count)), amount < UInt64.max / scale else { return nil }
            return amount * scale
        }
        return nil
    }
}
