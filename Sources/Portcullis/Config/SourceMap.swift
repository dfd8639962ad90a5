import Foundation

/// Maps key paths (`timeouts.client_header`, `routes[1].upstream`) to the line that sets them,
/// so validation errors can name a line even though the TOML library keeps no positions.
struct SourceMap {
    private var lines: [String: Int] = [:]

    init(text: String) {
        var prefix = ""
        var arrayCounts: [String: Int] = [:]
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.drop(while: { $0 == " " || $0 == "\t" })
            let number = offset + 1
            if line.hasPrefix("[[") , let close = line.range(of: "]]") {
                let name = Self.normalise(line[line.index(line.startIndex, offsetBy: 2)..<close.lowerBound])
                let index = arrayCounts[name, default: 0]
                arrayCounts[name] = index + 1
                prefix = "\(name)[\(index)]"
                lines[prefix] = number
            } else if line.hasPrefix("["), let close = line.firstIndex(of: "]") {
                prefix = Self.normalise(line[line.index(after: line.startIndex)..<close])
                lines[prefix] = number
            } else if let equals = line.firstIndex(of: "="), !line.hasPrefix("#") {
                let key = Self.normalise(line[..<equals])
                guard !key.isEmpty else { continue }
                let path = prefix.isEmpty ? key : "\(prefix).\(key)"
                if lines[path] == nil { lines[path] = number }
            }
        }
    }

    /// The line of `path`, or of its nearest enclosing table.
    func line(of path: String) -> Int? {
        var candidate = Substring(path)
        while !candidate.isEmpty {
            if let line = lines[String(candidate)] { return line }
            guard let dot = candidate.lastIndex(where: { $0 == "." || $0 == "[" }) else { break }
            candidate = candidate[..<dot]
        }
        return nil
    }

    private static func normalise(_ key: Substring) -> String {
        key.split(separator: ".").map { $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"'")) }
            .joined(separator: ".")
    }
}
