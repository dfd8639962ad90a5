/// The current request's id: the client's `X-Request-ID` when well-formed (at most 128
/// visible ASCII bytes, `RequestParser`), otherwise one the gateway made. Kept inline, as a
/// plain value: setting it allocates nothing and touches no reference count, and it can live in
/// `Exchange`.
struct RequestID {
    static let maxLength = 128
    private var storage = InlineArray<128, UInt8>(repeating: 0)
    private(set) var count = 0

    init() {}

    /// An id with the bytes at `source` (at most `maxLength` of them are kept).
    init(_ source: UnsafeBufferPointer<UInt8>) {
        set(source)
    }

    /// Replaces the id with the bytes at `source` (at most `maxLength` of them are kept).
    mutating func set(_ source: UnsafeBufferPointer<UInt8>) {
        guard let base = source.baseAddress else { count = 0; return }
        write(count: source.count) { $0.baseAddress!.update(from: base, count: $0.count) }
    }

    /// Replaces the id with `count` bytes (at most `maxLength`) that `fill` writes in place.
    mutating func write(count: Int, _ fill: (UnsafeMutableBufferPointer<UInt8>) -> Void) {
        let count = min(count, Self.maxLength)
        var span = storage.mutableSpan
        span.withUnsafeMutableBufferPointer { fill(UnsafeMutableBufferPointer(rebasing: $0[0..<count])) }
        self.count = count
    }

    var isEmpty: Bool { count == 0 }

    /// Calls `body` with the id's bytes.
    func withBytes<Result>(_ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        storage.span.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[0..<count])) }
    }

    /// Appends the id's bytes to `out`.
    func append(to out: ByteBuffer) {
        withBytes { out.append($0.baseAddress!, count: $0.count) }
    }

    var text: String { withBytes { String(decoding: $0, as: UTF8.self) } }
}
