import CShims
import Glibc

/// Makes request ids: 32 lowercase hex digits (128 random bits) from a per-worker
/// xoshiro256** generator seeded by the kernel, so no system call is made per request.
final class RequestIDGenerator {
    private var state: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    private static let digits: StaticString = "0123456789abcdef"

    init() {
        // Seeded through a local: a closure with `state` itself inout would make every later
        // access to it pay a runtime exclusivity check.
        var seed: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &seed) { bytes in
            var filled = 0
            while filled < bytes.count {
                let count = getrandom(bytes.baseAddress! + filled, bytes.count - filled, 0)
                if count > 0 { filled += count }
            }
        }
        if seed == (0, 0, 0, 0) { seed.0 = 0x9E37_79B9_7F4A_7C15 }
        state = seed
    }

    /// Writes a fresh id into `id`, in place.
    func next(into id: inout RequestID) {
        let first = nextRandom()
        let second = nextRandom()
        id.write(count: 32) { digits in
            Self.writeHex(first, into: digits, at: 0)
            Self.writeHex(second, into: digits, at: 16)
        }
    }

    private static func writeHex(_ value: UInt64, into id: UnsafeMutableBufferPointer<UInt8>, at offset: Int) {
        var value = value
        for index in offset..<offset + 16 {
            id[index] = digits.utf8Start[Int(value & 0xF)]
            value >>= 4
        }
    }

    private func nextRandom() -> UInt64 {
        let result = rotateLeft(state.1 &* 5, 7) &* 9
        let shifted = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= shifted
        state.3 = rotateLeft(state.3, 45)
        return result
    }

    private func rotateLeft(_ value: UInt64, _ amount: UInt64) -> UInt64 {
        (value << amount) | (value >> (64 - amount))
    }
}
