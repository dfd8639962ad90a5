/// A route's limits on request bodies: the largest accepted, and how much is read whole before
/// the upstream exchange starts (request buffering, as nginx does by default). A buffered body
/// never holds an upstream connection while a slow client sends it, and a body over the limit
/// is refused before the upstream sees a byte.
struct BodyLimits: Sendable, Equatable {
    /// Largest body (413 beyond).
    let max: Int64
    /// Bodies up to this size are buffered (0: every body streams). A chunked body, whose size
    /// is unknown until it ends, is buffered only when this covers `max`.
    let buffer: Int64

    /// Buffering is on by default for routes whose body limit is at most this.
    static let defaultBufferCeiling: Int64 = 1 << 20

    init(max: Int64, buffer: Int64) {
        self.max = max
        self.buffer = buffer
    }

    init(settings: RouteSettings, defaultMaxBody: Int64) {
        max = settings.maxBody ?? defaultMaxBody
        buffer = settings.requestBuffer ?? (max <= Self.defaultBufferCeiling ? max : 0)
    }

    /// The bytes to set aside for buffering a body framed as `framing`, or nil when it streams.
    func bufferReservation(for framing: BodyFraming) -> Int64? {
        switch framing {
        case .length(let length) where length <= buffer: return length
        case .chunked where buffer >= max: return max
        default: return nil
        }
    }
}

/// One worker's share of `[limits] request_buffer_memory`: buffered bodies reserve their size
/// here first; when the share is spent, bodies stream instead (nothing waits).
struct RequestBufferBudget {
    private(set) var inUse: Int64 = 0

    /// Sets `bytes` aside if that stays within `share`.
    mutating func reserve(_ bytes: Int64, share: Int64) -> Bool {
        guard inUse + bytes <= share else { return false }
        inUse += bytes
        return true
    }

    mutating func release(_ bytes: Int64) {
        inUse -= bytes
        assert(inUse >= 0, "request buffer budget released more than it reserved")
    }
}
