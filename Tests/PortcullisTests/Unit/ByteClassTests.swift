@testable import Portcullis
import Testing

/// The word-at-a-time scans (field values, tokens) against their byte-at-a-time definition by
/// the table: every byte value at every position of a word, and random mixes, stop at the same
/// place.
@Suite struct ByteClassTests {
    /// A word-at-a-time scan and the table bit it must agree with.
    private struct Scan: Sendable {
        let name: String
        let bit: UInt8
        let scan: @Sendable (UnsafePointer<UInt8>, Int, Int) -> Int
        /// Bytes the scan runs over quickly; random mixes are mostly these.
        let usual: [UInt8]
        /// Bytes that end it, or are allowed but off its fast path.
        let unusual: [UInt8]
    }

    private static let scans = [
        Scan(name: "field value", bit: ByteClass.fieldValue,
             scan: { ByteClass.endOfFieldValue($0, from: $1, count: $2) },
             usual: Array(0x20...0x7E),
             unusual: [0x00, 0x09, 0x0A, 0x0D, 0x1F, 0x20, 0x21, 0x41, 0x7E, 0x7F, 0x80, 0xC3, 0xFF]),
        Scan(name: "token", bit: ByteClass.token,
             scan: { ByteClass.endOfToken($0, from: $1, count: $2) },
             usual: Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-".utf8),
             unusual: Array("!#$%&'*+.^_`|~:; \t\r\n@[{/\u{7F}\0".utf8) + [0x0D | 0x20, 0x80, 0xC1, 0xFF]),
    ]

    private func byteByByte(_ bytes: [UInt8], from start: Int, bit: UInt8) -> Int {
        var index = start
        while index < bytes.count && ByteClass.table[Int(bytes[index])] & bit != 0 { index += 1 }
        return index
    }

    private func scanned(_ bytes: [UInt8], from start: Int, with scan: Scan) -> Int {
        bytes.withUnsafeBufferPointer { scan.scan($0.baseAddress!, start, $0.count) }
    }

    /// The table is a literal: each class again from its rule in the grammar.
    @Test func tableMatchesTheGrammar() {
        let tokenSymbols = Array("!#$%&'*+-.^_`|~".utf8)
        let regNameSymbols = Array("-._~!$&'()*+,;=%".utf8)
        #expect(ByteClass.table.count == 256)
        for value in UInt8.min...UInt8.max {
            let isAlpha = (65...90).contains(value) || (97...122).contains(value)
            let isDigit = (48...57).contains(value)
            let isHexLetter = (65...70).contains(value) || (97...102).contains(value)
            let expected: [(UInt8, Bool)] = [
                (ByteClass.token, isAlpha || isDigit || tokenSymbols.contains(value)),
                (ByteClass.fieldValue, value == 9 || value == 32 || (value >= 0x21 && value != 0x7F)),
                (ByteClass.target, (0x21...0x7E).contains(value)),
                (ByteClass.hex, isDigit || isHexLetter),
                (ByteClass.regName, isAlpha || isDigit || regNameSymbols.contains(value)),
            ]
            for (bit, member) in expected {
                #expect((ByteClass.table[Int(value)] & bit != 0) == member, "byte \(value), class \(bit)")
            }
        }
    }

    @Test func everyByteAtEveryPositionStopsWhereTheTableSays() {
        for scan in Self.scans {
            for value in 0...255 {
                for position in 0..<20 {
                    var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 24)
                    bytes[position] = UInt8(value)
                    for start in [0, 1, 3] where start <= position {
                        #expect(scanned(bytes, from: start, with: scan) == byteByByte(bytes, from: start, bit: scan.bit),
                                "\(scan.name): byte \(value) at \(position), from \(start)")
                    }
                }
            }
        }
    }

    @Test func randomMixesStopWhereTheTableSays() {
        var generator = SystemRandomNumberGenerator()
        for scan in Self.scans {
            for _ in 0..<20_000 {
                let count = Int.random(in: 0...40, using: &generator)
                // Mostly usual bytes, so scans run across several words before they stop.
                let bytes = (0..<count).map { _ in
                    Int.random(in: 0..<12, using: &generator) == 0
                        ? scan.unusual.randomElement(using: &generator)! : scan.usual.randomElement(using: &generator)!
                }
                let start = count == 0 ? 0 : Int.random(in: 0...count, using: &generator)
                #expect(scanned(bytes, from: start, with: scan) == byteByByte(bytes, from: start, bit: scan.bit),
                        "\(scan.name): \(bytes) from \(start)")
            }
        }
    }
}
