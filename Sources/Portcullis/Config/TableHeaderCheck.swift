/// Refuses table headers that TOMLKit's parser (toml++) cannot take: after `[` or `[[` it
/// asserts that a key begins with a bare-key character or a quote, and the assertion aborts the
/// process, release builds included. `[[, b]]` in a configuration file therefore killed
/// `portcullis check`, and a running gateway on reload (found by fuzzing the config loader).
/// Such a header is invalid TOML anyway; it is reported with its line like any other error.
///
/// Headers are found as toml++ finds them: lines at the top level whose first character is
/// `[`, outside multi-line strings and outside arrays or inline tables that span lines.
enum TableHeaderCheck {
    /// The first line holding a header toml++ would abort on, or nil.
    static func firstInvalidHeader(in text: String) -> Int? {
        var depth = 0
        var multiline: [UInt8]?
        for (index, line) in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            let bytes = Array(line)
            var position = 0
            if multiline == nil && depth == 0 {
                while position < bytes.count && (bytes[position] == 32 || bytes[position] == 9) { position += 1 }
                if position < bytes.count && bytes[position] == UInt8(ascii: "[") {
                    guard headerKeyStartsWell(bytes, after: position) else { return index + 1 }
                    continue
                }
            }
            scanValue(bytes, from: position, depth: &depth, multiline: &multiline)
        }
        return nil
    }

    /// After `[` or `[[` and blanks, on the same line: a bare-key character, a quote or the
    /// closing `]`.
    private static func headerKeyStartsWell(_ bytes: [UInt8], after open: Int) -> Bool {
        var position = open + 1
        if position < bytes.count && bytes[position] == UInt8(ascii: "[") { position += 1 }
        while position < bytes.count && (bytes[position] == 32 || bytes[position] == 9) { position += 1 }
        // The key must be on the header's line: `[` alone, then a line break, aborts as well.
        guard position < bytes.count else { return false }
        let byte = bytes[position]
        return (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || (byte >= 48 && byte <= 57)
            || byte == 95 || byte == 45 || byte == 34 || byte == 39 || byte == 93
    }

    /// Follows brackets and braces outside strings and comments, and multi-line strings.
    private static func scanValue(_ bytes: [UInt8], from start: Int, depth: inout Int, multiline: inout [UInt8]?) {
        var position = start
        while position < bytes.count {
            if let delimiter = multiline {
                if bytes[position...].starts(with: delimiter) {
                    multiline = nil
                    position += 3
                } else {
                    position += 1
                }
                continue
            }
            let byte = bytes[position]
            switch byte {
            case 35: return  // a comment ends the line
            case 34, 39:
                let triple = [byte, byte, byte]
                if bytes[position...].starts(with: triple) {
                    multiline = triple
                    position += 3
                    continue
                }
                position += 1
                while position < bytes.count && bytes[position] != byte {
                    position += byte == 34 && bytes[position] == 92 ? 2 : 1
                }
            case 91, 123: depth += 1
            case 93, 125: depth = max(depth - 1, 0)
            default: break
            }
            position += 1
        }
    }
}
