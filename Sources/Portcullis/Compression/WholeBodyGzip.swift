import CDeflate

/// gzip for a response body that is whole in memory (a known length of at most `maxBody`
/// bytes): one call to libdeflate, which compresses such a body faster than zlib does, and
/// smaller at the same level (README, "gzip"). Bodies streamed or longer go through zlib
/// (`GzipStream`). The compressor keeps nothing between calls: one per worker serves every
/// connection in turn.
final class WholeBodyGzip {
    /// Bodies up to this many bytes are compressed whole: half the high-water mark, so the
    /// response head and the whole body fit in the upstream's read buffer while the last
    /// bytes are awaited.
    static let maxBody = 32 * 1024

    let level: Int
    private let compressor: OpaquePointer
    /// Where the output goes before it is framed into a connection's buffer: room for the
    /// worst case of `maxBody` bytes.
    private let output: UnsafeMutableBufferPointer<UInt8>

    init?(level: Int) {
        guard let compressor = libdeflate_alloc_compressor(Int32(level)) else { return nil }
        self.compressor = compressor
        self.level = level
        output = .allocate(capacity: libdeflate_gzip_compress_bound(compressor, Self.maxBody))
    }

    deinit {
        libdeflate_free_compressor(compressor)
        output.deallocate()
    }

    /// One gzip member holding `count` (at most `maxBody`) bytes; valid until the next call.
    func compress(_ input: UnsafePointer<UInt8>, count: Int) -> UnsafeBufferPointer<UInt8> {
        precondition(count <= Self.maxBody, "a whole body is at most \(Self.maxBody) bytes")
        // Never 0: the output has room for the bound libdeflate gives for this many bytes.
        let produced = libdeflate_gzip_compress(compressor, input, count, output.baseAddress, output.count)
        return UnsafeBufferPointer(start: output.baseAddress, count: produced)
    }
}
