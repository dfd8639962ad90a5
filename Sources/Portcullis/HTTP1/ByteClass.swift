/// Byte classification table for the HTTP grammar (RFC 9110 §5.6.2, RFC 9112 §3 and §5).
///
/// One load and one mask per byte; built once, never freed.
enum ByteClass {
    /// `tchar`: may appear in a token (method, field name, transfer coding).
    static let token: UInt8 = 1
    /// May appear in a field value: HTAB, SP, VCHAR, obs-text.
    static let fieldValue: UInt8 = 2
    /// May appear in a request target: VCHAR only (no space, no control, no obs-text).
    static let target: UInt8 = 4
    /// Hexadecimal digit.
    static let hex: UInt8 = 8
    /// May appear in a Host value: reg-name, IP literal and port characters.
    static let host: UInt8 = 16

    /// The table, indexed by byte value.
    nonisolated(unsafe) static let table: UnsafePointer<UInt8> = {
        let table = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        table.initialize(repeating: 0, count: 256)
        let tokenSymbols = Array("!#$%&'*+-.^_`|~".utf8)
        let hostSymbols = Array("-._~!$&'()*+,;=:[]%".utf8)
        for byte in 0..<256 {
            let value = UInt8(byte)
            var bits: UInt8 = 0
            let isAlpha = (value >= 65 && value <= 90) || (value >= 97 && value <= 122)
            let isDigit = value >= 48 && value <= 57
            if isAlpha || isDigit || tokenSymbols.contains(value) { bits |= token }
            if value == 9 || value == 32 || (value >= 0x21 && value != 0x7F) { bits |= fieldValue }
            if value >= 0x21 && value <= 0x7E { bits |= target }
            if isDigit || (value >= 65 && value <= 70) || (value >= 97 && value <= 102) { bits |= hex }
            if isAlpha || isDigit || hostSymbols.contains(value) { bits |= host }
            table[byte] = bits
        }
        return UnsafePointer(table)
    }()

    /// The first byte at or after `start` that cannot be in a field value (CR, LF, any other
    /// control, DEL), or `count`. Eight bytes at a time while a whole word is SP, VCHAR or
    /// obs-text (no byte below 0x20, none equal to 0x7F: exact as a yes/no for the word); a word
    /// with anything else, HTAB included, is finished byte by byte with the table.
    @inline(__always)
    static func endOfFieldValue(_ pointer: UnsafePointer<UInt8>, from start: Int, count: Int) -> Int {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highBits: UInt64 = 0x8080_8080_8080_8080
        var index = start
        let raw = UnsafeRawPointer(pointer)
        while index + 8 <= count {
            let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            let belowSpace = (word &- ones &* 0x20) & ~word & highBits
            let notDelete = word ^ (ones &* 0x7F)
            let delete = (notDelete &- ones) & ~notDelete & highBits
            if belowSpace | delete != 0 { break }
            index += 8
        }
        while index < count && table[Int(pointer[index])] & fieldValue != 0 { index += 1 }
        return index
    }
}

/// ASCII bytes used by the parsers.
enum ASCII {
    static let cr: UInt8 = 13
    static let lf: UInt8 = 10
    static let space: UInt8 = 32
    static let tab: UInt8 = 9
    static let colon: UInt8 = 58
    static let comma: UInt8 = 44
    static let semicolon: UInt8 = 59
    static let slash: UInt8 = 47
    static let question: UInt8 = 63
    static let dot: UInt8 = 46
    static let percent: UInt8 = 37
    static let zero: UInt8 = 48
    static let nine: UInt8 = 57
    static let quote: UInt8 = 34
    static let backslash: UInt8 = 92
    static let equals: UInt8 = 61
    static let hash: UInt8 = 35
    static let leftBracket: UInt8 = 91
    static let rightBracket: UInt8 = 93
}

/// Byte-range helpers over raw buffers, shared by the request, response and chunk parsers.
enum Bytes {
    /// Case-insensitive comparison of `count` bytes at `pointer` with a lowercase ASCII literal.
    @inline(__always)
    static func equalsLowercase(_ pointer: UnsafePointer<UInt8>, _ count: Int, _ literal: StaticString) -> Bool {
        guard count == literal.utf8CodeUnitCount else { return false }
        let expected = literal.utf8Start
        for index in 0..<count where pointer[index] | 0x20 != expected[index] {
            return false
        }
        return true
    }

    /// Case-insensitive comparison of `count` bytes at `pointer` with lower-case ASCII bytes
    /// (exact for letters, so `[` never equals `{`).
    @inline(__always)
    static func equalsLowercase(_ pointer: UnsafePointer<UInt8>, _ count: Int, _ lowercase: [UInt8]) -> Bool {
        guard count == lowercase.count else { return false }
        for index in 0..<count {
            var byte = pointer[index]
            if byte >= 65 && byte <= 90 { byte |= 0x20 }
            if byte != lowercase[index] { return false }
        }
        return true
    }

    /// Whether `count` bytes at `pointer` contain a lowercase ASCII literal, case-insensitively.
    static func containsLowercase(_ pointer: UnsafePointer<UInt8>, _ count: Int, _ literal: StaticString) -> Bool {
        let length = literal.utf8CodeUnitCount
        guard length <= count else { return false }
        for start in 0...(count - length) where equalsLowercase(pointer + start, length, literal) { return true }
        return false
    }

    /// Parses a run of decimal digits; nil if empty, not all digits, or longer than 18 digits.
    @inline(__always)
    static func decimal(_ pointer: UnsafePointer<UInt8>, _ count: Int) -> Int64? {
        guard count > 0 && count <= 18 else { return nil }
        var value: Int64 = 0
        for index in 0..<count {
            let byte = pointer[index]
            guard byte >= ASCII.zero && byte <= ASCII.nine else { return nil }
            value = value * 10 + Int64(byte - ASCII.zero)
        }
        return value
    }

    /// Index of the first `byte` in `pointer[from..<to]`, or nil.
    @inline(__always)
    static func find(_ byte: UInt8, _ pointer: UnsafePointer<UInt8>, from: Int, to: Int) -> Int? {
        var index = from
        while index < to {
            if pointer[index] == byte { return index }
            index += 1
        }
        return nil
    }

    /// Trims optional whitespace (SP / HTAB) from both ends of `start..<end`.
    @inline(__always)
    static func trimOWS(_ pointer: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> (Int, Int) {
        var start = start
        var end = end
        while start < end && (pointer[start] == ASCII.space || pointer[start] == ASCII.tab) { start += 1 }
        while end > start && (pointer[end - 1] == ASCII.space || pointer[end - 1] == ASCII.tab) { end -= 1 }
        return (start, end)
    }

    /// Calls `body` with each comma-separated, OWS-trimmed element of `start..<end`.
    @inline(__always)
    static func forEachListElement(_ pointer: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ body: (Int, Int) -> Void) {
        var elementStart = start
        var index = start
        while index <= end {
            if index == end || pointer[index] == ASCII.comma {
                let (trimmedStart, trimmedEnd) = trimOWS(pointer, elementStart, index)
                if trimmedEnd > trimmedStart { body(trimmedStart, trimmedEnd) }
                elementStart = index + 1
            }
            index += 1
        }
    }

    /// Merges one `Content-Length` field value (a list of equal decimals is allowed, RFC 9110
    /// §8.6) into `length` (-1: none yet). False when invalid or different from earlier values.
    static func mergeContentLength(_ pointer: UnsafePointer<UInt8>, _ start: Int, _ end: Int, into length: inout Int64) -> Bool {
        var valid = end > start
        var merged = length
        forEachListElement(pointer, start, end) { elementStart, elementEnd in
            guard let value = decimal(pointer + elementStart, elementEnd - elementStart),
                  merged < 0 || merged == value else { valid = false; return }
            merged = value
        }
        length = merged
        return valid
    }
}
