import Glibc

/// Byte classification table for the HTTP grammar (RFC 9110 §5.6.2, RFC 9112 §3 and §5).
///
/// One load and one mask per byte.
enum ByteClass {
    /// `tchar`: may appear in a token (method, field name, transfer coding).
    static let token: UInt8 = 1
    /// May appear in a field value: HTAB, SP, VCHAR, obs-text.
    static let fieldValue: UInt8 = 2
    /// May appear in a request target: VCHAR only (no space, no control, no obs-text).
    static let target: UInt8 = 4
    /// Hexadecimal digit.
    static let hex: UInt8 = 8
    /// May appear in a reg-name (RFC 3986 §3.2.2): a host that is not an IP literal.
    static let regName: UInt8 = 16

    /// The table, indexed by byte value: a literal, so it is built into the binary (no lazy
    /// initialisation to check on each use); `ByteClassTests` derives it again from the grammar.
    static let table: [UInt8] = [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 0x00
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 0x10
        0x02, 0x17, 0x06, 0x07, 0x17, 0x17, 0x17, 0x17, 0x16, 0x16, 0x17, 0x17, 0x16, 0x17, 0x17, 0x06,  // 0x20
        0x1F, 0x1F, 0x1F, 0x1F, 0x1F, 0x1F, 0x1F, 0x1F, 0x1F, 0x1F, 0x06, 0x16, 0x06, 0x16, 0x06, 0x06,  // 0x30
        0x06, 0x1F, 0x1F, 0x1F, 0x1F, 0x1F, 0x1F, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17,  // 0x40
        0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x06, 0x06, 0x06, 0x07, 0x17,  // 0x50
        0x07, 0x1F, 0x1F, 0x1F, 0x1F, 0x1F, 0x1F, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17,  // 0x60
        0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x06, 0x07, 0x06, 0x17, 0x00,  // 0x70
        0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,  // 0x80
        0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,  // 0x90
        0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,  // 0xA0
        0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,  // 0xB0
        0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,  // 0xC0
        0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,  // 0xD0
        0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,  // 0xE0
        0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,  // 0xF0
    ]
}

/// Scans eight bytes at a time. Each scan's word test flags the bytes that leave its fast set,
/// and the lowest flagged byte is always exact (a flag is exact per byte, or, where a borrow
/// runs upwards, it comes from a lower byte that is itself flagged), so the scan jumps there
/// with one count of trailing zeros and finishes byte by byte with the table.
extension ByteClass {
    /// The first byte at or after `start` that cannot be in a field value (CR, LF, any other
    /// control, DEL), or `count`. The fast set is SP, VCHAR and obs-text (no byte below 0x20,
    /// none equal to 0x7F); HTAB is allowed but finished by the table, and the CR that ends the
    /// line is the usual stop.
    @inline(__always)
    static func endOfFieldValue(_ pointer: UnsafePointer<UInt8>, from start: Int, count: Int) -> Int {
        scan(pointer, from: start, count: count, continuingIn: fieldValue) { word in
            let ones: UInt64 = 0x0101_0101_0101_0101
            let belowSpace = (word &- ones &* 0x20) & ~word & (ones &* 0x80)
            let notDelete = word ^ (ones &* 0x7F)
            return belowSpace | (notDelete &- ones) & ~notDelete & (ones &* 0x80)
        }
    }

    /// The first byte at or after `start` that cannot be in a token (after a field name: the
    /// colon), or `count`. The fast set is letters and `-`, what field names are made of; digits
    /// and the other `tchar` symbols continue the token through the table.
    @inline(__always)
    static func endOfToken(_ pointer: UnsafePointer<UInt8>, from start: Int, count: Int) -> Int {
        scan(pointer, from: start, count: count, continuingIn: token) { word in
            let ones: UInt64 = 0x0101_0101_0101_0101
            let letters = bytes(of: word | (ones &* 0x20), above: 0x60, below: 0x7B)
            return ~(letters | bytes(of: word, equalTo: 0x2D)) & (ones &* 0x80)
        }
    }

    /// Words while `flagged` marks none of their bytes, then bytes while they are in `bit`'s
    /// class.
    @inline(__always)
    private static func scan(_ pointer: UnsafePointer<UInt8>, from start: Int, count: Int, continuingIn bit: UInt8,
                             flagged: (UInt64) -> UInt64) -> Int {
        var index = start
        let raw = UnsafeRawPointer(pointer)
        while index + 8 <= count {
            let flags = flagged(raw.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            if flags != 0 {
                index += flags.trailingZeroBitCount >> 3
                break
            }
            index += 8
        }
        while index < count && table[Int(pointer[index])] & bit != 0 { index += 1 }
        return index
    }

    /// The high bit of each byte of `word` whose value lies strictly between `low` and `high`
    /// (both at most 0x80). No step carries or borrows across bytes, so every byte is exact.
    @inline(__always)
    private static func bytes(of word: UInt64, above low: UInt64, below high: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let lowSeven = word & (ones &* 0x7F)
        let belowHigh = (ones &* (127 + high)) &- lowSeven
        let aboveLow = lowSeven &+ ones &* (127 - low)
        return belowHigh & aboveLow & ~word & (ones &* 0x80)
    }

    /// The high bit of each byte of `word` equal to `value`, exact per byte.
    @inline(__always)
    private static func bytes(of word: UInt64, equalTo value: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let difference = word ^ (ones &* value)
        let nonZero = ((difference & (ones &* 0x7F)) &+ ones &* 0x7F) | difference
        return ~nonZero & (ones &* 0x80)
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
    /// Case-insensitive comparison of `count` bytes at `pointer` with a lowercase ASCII literal
    /// (each byte with its 0x20 bit set must equal the literal's: exact for tokens, whose only
    /// such pairs are letters). Eight bytes at a time from eight on, the last word overlapping
    /// the one before; the literal's words are constants once this is inlined.
    @inline(__always)
    static func equalsLowercase(_ pointer: UnsafePointer<UInt8>, _ count: Int, _ literal: StaticString) -> Bool {
        guard count == literal.utf8CodeUnitCount else { return false }
        let expected = literal.utf8Start
        guard count >= 8 else {
            for index in 0..<count where pointer[index] | 0x20 != expected[index] {
                return false
            }
            return true
        }
        let fold: UInt64 = 0x2020_2020_2020_2020
        let name = UnsafeRawPointer(pointer)
        let lowercase = UnsafeRawPointer(expected)
        var offset = 0
        while true {
            let word = name.loadUnaligned(fromByteOffset: offset, as: UInt64.self) | fold
            guard word == lowercase.loadUnaligned(fromByteOffset: offset, as: UInt64.self) else { return false }
            if offset == count - 8 { return true }
            offset = min(offset + 8, count - 8)
        }
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

    /// The value of a hexadecimal digit (either case), or nil.
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 48...57: return byte - 48
        case 65...70: return byte - 55
        case 97...102: return byte - 87
        default: return nil
        }
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

    /// Index of the first `byte` in `pointer[from..<to]`, or nil (libc's vectorised `memchr`:
    /// a request line costs a few instructions instead of five a byte).
    @inline(__always)
    static func find(_ byte: UInt8, _ pointer: UnsafePointer<UInt8>, from: Int, to: Int) -> Int? {
        guard from < to, let found = memchr(pointer + from, Int32(byte), to - from) else { return nil }
        return UnsafeRawPointer(found) - UnsafeRawPointer(pointer)
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
