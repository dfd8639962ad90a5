import CHiredis

/// A Redis reply copied out of hiredis (which frees its reply after the callback).
enum RedisValue: Equatable, Sendable {
    case integer(Int64)
    case bytes([UInt8])
    case status(String)
    case error(String)
    case array([RedisValue])
    case null

    init(_ reply: UnsafeMutablePointer<redisReply>) {
        let value = reply.pointee
        switch value.type {
        case REDIS_REPLY_INTEGER:
            self = .integer(Int64(value.integer))
        case REDIS_REPLY_STRING:
            self = .bytes(Self.bytes(value))
        case REDIS_REPLY_STATUS:
            self = .status(String(decoding: Self.bytes(value), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            self = .error(String(decoding: Self.bytes(value), as: UTF8.self))
        case REDIS_REPLY_ARRAY:
            self = .array((0..<value.elements).map { RedisValue(value.element[$0]!) })
        default:
            self = .null
        }
    }

    private static func bytes(_ reply: redisReply) -> [UInt8] {
        guard let text = reply.str, reply.len > 0 else { return [] }
        return text.withMemoryRebound(to: UInt8.self, capacity: reply.len) { Array(UnsafeBufferPointer(start: $0, count: reply.len)) }
    }

    /// Integers in an array reply (strings holding integers count too), or nil.
    var integers: [Int64]? {
        guard case .array(let items) = self else { return nil }
        var result: [Int64] = []
        for item in items {
            switch item {
            case .integer(let number): result.append(number)
            case .bytes(let text): guard let number = Int64(String(decoding: text, as: UTF8.self)) else { return nil }; result.append(number)
            case .null: result.append(0)
            default: return nil
            }
        }
        return result
    }
}

/// Builds commands in the Redis protocol (RESP) for `redisAsyncFormattedCommand`.
struct RedisCommand {
    /// The command in the protocol's format, followed by a NUL that is not part of it: hiredis
    /// looks into the command with `strchr` (for SUBSCRIBE and the like), which reads up to a
    /// NUL; without one it read past the buffer (found by AddressSanitizer).
    private(set) var bytes: [UInt8] = []
    /// The command's length, without the NUL.
    var length: Int { bytes.count - 1 }
    /// Where the key the command works on lies in `bytes`; nil for a command without one
    /// (TIME, PUBLISH, SCRIPT LOAD), which any node of a cluster can run.
    private var keyRange: Range<Int>?

    /// The cluster hash slot of the command's key, computed only when asked (by a cluster:
    /// a single Redis never needs it).
    var slot: Int? { keyRange.map { RedisSlot.of(bytes[$0]) } }

    /// `keyAt`: the index of the argument holding the command's key (every key of one command
    /// must share its slot: the rate-limit keys share a hash tag).
    init(_ arguments: [[UInt8]], keyAt: Int? = nil) {
        bytes.reserveCapacity(64 + arguments.reduce(0) { $0 + $1.count + 16 })
        bytes.append(UInt8(ascii: "*"))
        DecimalText.append(Int64(arguments.count), to: &bytes)
        bytes.append(contentsOf: [13, 10])
        for (index, argument) in arguments.enumerated() {
            bytes.append(UInt8(ascii: "$"))
            DecimalText.append(Int64(argument.count), to: &bytes)
            bytes.append(contentsOf: [13, 10])
            if index == keyAt { keyRange = bytes.count..<(bytes.count + argument.count) }
            bytes.append(contentsOf: argument)
            bytes.append(contentsOf: [13, 10])
        }
        bytes.append(0)
    }

    init(_ arguments: String...) {
        self.init(arguments.map { Array($0.utf8) })
    }

    /// A command whose second argument is its key (HSET, HGETALL, XADD …).
    init(keyed arguments: String...) {
        self.init(arguments.map { Array($0.utf8) }, keyAt: 1)
    }
}
