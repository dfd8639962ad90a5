@testable import Portcullis
import Testing

/// The word-at-a-time field-value scan against the byte-at-a-time definition: every byte value
/// at every position of a word, and random mixes, stop at the same place.
@Suite struct ByteClassTests {
    private func byteByByte(_ bytes: [UInt8], from start: Int) -> Int {
        var index = start
        while index < bytes.count && ByteClass.table[Int(bytes[index])] & ByteClass.fieldValue != 0 { index += 1 }
        return index
    }

    private func scanned(_ bytes: [UInt8], from start: Int) -> Int {
        bytes.withUnsafeBufferPointer { ByteClass.endOfFieldValue($0.baseAddress!, from: start, count: $0.count) }
    }

    @Test func everyByteAtEveryPositionStopsWhereTheTableSays() {
        for value in 0...255 {
            for position in 0..<20 {
                var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 24)
                bytes[position] = UInt8(value)
                for start in [0, 1, 3] where start <= position {
                    #expect(scanned(bytes, from: start) == byteByByte(bytes, from: start), "byte \(value) at \(position), from \(start)")
                }
            }
        }
    }

    @Test func randomMixesStopWhereTheTableSays() {
        var generator = SystemRandomNumberGenerator()
        let alphabet: [UInt8] = [0x00, 0x09, 0x0A, 0x0D, 0x1F, 0x20, 0x21, 0x41, 0x7E, 0x7F, 0x80, 0xC3, 0xFF]
        for _ in 0..<20_000 {
            let count = Int.random(in: 0...40, using: &generator)
            // Mostly valid bytes, so scans run across several words before they stop.
            let bytes = (0..<count).map { _ in
                Int.random(in: 0..<12, using: &generator) == 0 ? alphabet.randomElement(using: &generator)! : UInt8.random(in: 0x20...0x7E, using: &generator)
            }
            let start = count == 0 ? 0 : Int.random(in: 0...count, using: &generator)
            #expect(scanned(bytes, from: start) == byteByByte(bytes, from: start), "\(bytes) from \(start)")
        }
    }
}
