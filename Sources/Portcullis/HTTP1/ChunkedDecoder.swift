/// A streaming decoder for `Transfer-Encoding: chunked` (RFC 9112 §7.1).
///
/// Size lines and trailer lines are validated whole (they are short, and wait in the buffer
/// until their CRLF arrives); chunk data is handed out as byte ranges as soon as it arrives.
/// Extensions are checked against the grammar and dropped; trailers are checked and dropped.
public struct ChunkedDecoder {
    /// What `next` found at the front of the bytes it was given.
    public enum Event {
        /// `count` data bytes start at `offset`; consume `offset + count` bytes afterwards.
        case data(offset: Int, count: Int)
        /// Consume `consumed` bytes (framing), then call again with more input.
        case needMore(consumed: Int)
        /// The last chunk and trailers ended after `consumed` bytes.
        case end(consumed: Int)
        /// Malformed framing.
        case invalid(StaticString)
    }

    private enum State {
        case sizeLine
        case data(remaining: Int64)
        case dataEnd
        case trailers(seenBytes: Int)
        case done
    }

    private var state: State = .sizeLine
    private static let maxLineLength = 4096
    private static let maxTrailerBytes = 16384

    public init() {}

    /// Decodes from the front of `bytes`, handing out at most `maxData` data bytes.
    public mutating func next(_ bytes: UnsafeBufferPointer<UInt8>, maxData: Int = .max) -> Event {
        guard let pointer = bytes.baseAddress else { return .needMore(consumed: 0) }
        let count = bytes.count
        var position = 0
        while true {
            switch state {
            case .done:
                return .end(consumed: position)
            case .sizeLine:
                guard let lineFeed = Bytes.find(ASCII.lf, pointer, from: position, to: min(count, position + Self.maxLineLength)) else {
                    if count - position >= Self.maxLineLength { return .invalid("chunk size line too long") }
                    return .needMore(consumed: position)
                }
                guard let size = Self.parseSizeLine(pointer, from: position, lineFeed: lineFeed) else {
                    return .invalid("malformed chunk size line")
                }
                position = lineFeed + 1
                state = size == 0 ? .trailers(seenBytes: 0) : .data(remaining: size)
            case .data(let remaining):
                let available = count - position
                guard available > 0, maxData > 0 else { return .needMore(consumed: position) }
                let take = Int(min(Int64(min(available, maxData)), remaining))
                let left = remaining - Int64(take)
                state = left == 0 ? .dataEnd : .data(remaining: left)
                return .data(offset: position, count: take)
            case .dataEnd:
                guard count - position >= 2 else { return .needMore(consumed: position) }
                guard pointer[position] == ASCII.cr && pointer[position + 1] == ASCII.lf else {
                    return .invalid("chunk data not followed by CRLF")
                }
                position += 2
                state = .sizeLine
            case .trailers(let seenBytes):
                guard let lineFeed = Bytes.find(ASCII.lf, pointer, from: position, to: count) else {
                    if seenBytes + count - position > Self.maxTrailerBytes { return .invalid("trailers too large") }
                    return .needMore(consumed: position)
                }
                guard lineFeed > position, pointer[lineFeed - 1] == ASCII.cr else { return .invalid("bare LF in trailers") }
                if lineFeed == position + 1 {
                    state = .done
                    return .end(consumed: lineFeed + 1)
                }
                guard Self.isValidTrailerLine(pointer, from: position, to: lineFeed - 1) else {
                    return .invalid("malformed trailer field")
                }
                let total = seenBytes + lineFeed + 1 - position
                if total > Self.maxTrailerBytes { return .invalid("trailers too large") }
                state = .trailers(seenBytes: total)
                position = lineFeed + 1
            }
        }
    }

    /// `1*HEXDIG *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] ) CRLF`.
    private static func parseSizeLine(_ pointer: UnsafePointer<UInt8>, from start: Int, lineFeed: Int) -> Int64? {
        guard lineFeed > start, pointer[lineFeed - 1] == ASCII.cr else { return nil }
        let end = lineFeed - 1
        var index = start
        var size: Int64 = 0
        while index < end && ByteClass.table[Int(pointer[index])] & ByteClass.hex != 0 {
            guard index - start < 15 else { return nil }
            let byte = pointer[index] | 0x20
            size = size << 4 | Int64(byte <= ASCII.nine ? byte - ASCII.zero : byte - 0x61 + 10)
            index += 1
        }
        guard index > start else { return nil }
        while index < end {
            index = skipWhitespace(pointer, index, end)
            guard index < end, pointer[index] == ASCII.semicolon else { return nil }
            index = skipWhitespace(pointer, index + 1, end)
            let nameStart = index
            index = skipToken(pointer, index, end)
            guard index > nameStart else { return nil }
            index = skipWhitespace(pointer, index, end)
            if index < end && pointer[index] == ASCII.equals {
                index = skipWhitespace(pointer, index + 1, end)
                guard index < end else { return nil }
                if pointer[index] == ASCII.quote {
                    guard let closing = skipQuotedString(pointer, index, end) else { return nil }
                    index = closing
                } else {
                    let valueStart = index
                    index = skipToken(pointer, index, end)
                    guard index > valueStart else { return nil }
                }
            }
        }
        return size
    }

    private static func skipWhitespace(_ pointer: UnsafePointer<UInt8>, _ index: Int, _ end: Int) -> Int {
        var index = index
        while index < end && (pointer[index] == ASCII.space || pointer[index] == ASCII.tab) { index += 1 }
        return index
    }

    private static func skipToken(_ pointer: UnsafePointer<UInt8>, _ index: Int, _ end: Int) -> Int {
        var index = index
        while index < end && ByteClass.table[Int(pointer[index])] & ByteClass.token != 0 { index += 1 }
        return index
    }

    /// Returns the index after the closing quote, or nil if unterminated or invalid.
    private static func skipQuotedString(_ pointer: UnsafePointer<UInt8>, _ openQuote: Int, _ end: Int) -> Int? {
        var index = openQuote + 1
        while index < end {
            let byte = pointer[index]
            if byte == ASCII.quote { return index + 1 }
            if byte == ASCII.backslash { index += 1 }
            guard index < end, ByteClass.table[Int(pointer[index])] & ByteClass.fieldValue != 0 else { return nil }
            index += 1
        }
        return nil
    }

    private static func isValidTrailerLine(_ pointer: UnsafePointer<UInt8>, from start: Int, to end: Int) -> Bool {
        let nameEnd = skipToken(pointer, start, end)
        guard nameEnd > start, nameEnd < end, pointer[nameEnd] == ASCII.colon else { return false }
        for index in (nameEnd + 1)..<end where ByteClass.table[Int(pointer[index])] & ByteClass.fieldValue == 0 {
            return false
        }
        return true
    }
}
