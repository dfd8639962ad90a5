/// The Redis Cluster hash slot of a key: CRC16 (XMODEM) of the key, or of its hash tag (the
/// text between the first `{` and the next `}`, when that is not empty), modulo 16384. Keys
/// that share a tag share a slot, which is what lets one script touch several of them.
enum RedisSlot {
    static let count = 16384

    static func of<Key: Collection>(_ key: Key) -> Int where Key.Element == UInt8 {
        crc16(hashedPart(of: key)) & (count - 1)
    }

    /// The hash tag when there is one, else the whole key.
    static func hashedPart<Key: Collection>(of key: Key) -> Key.SubSequence where Key.Element == UInt8 {
        guard let open = key.firstIndex(of: UInt8(ascii: "{")) else { return key[...] }
        let afterOpen = key.index(after: open)
        guard let close = key[afterOpen...].firstIndex(of: UInt8(ascii: "}")), close != afterOpen else { return key[...] }
        return key[afterOpen..<close]
    }

    static func crc16<Bytes: Collection>(_ bytes: Bytes) -> Int where Bytes.Element == UInt8 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ table[Int((crc >> 8) ^ UInt16(byte))]
        }
        return Int(crc)
    }

    /// CRC16-CCITT (polynomial 0x1021), one entry per leading byte.
    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }
}
