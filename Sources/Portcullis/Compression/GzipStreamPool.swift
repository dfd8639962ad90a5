/// A worker's gzip compressors: zlib streams, idle ones kept for reuse (zlib state is costly to
/// set up), a cap on those in use, and one scratch buffer their output passes through; and the
/// one whole-body compressor (libdeflate), made on first use.
final class GzipStreamPool {
    private var idle: [GzipStream] = []
    private(set) var active = 0
    private var wholeBodyCompressor: WholeBodyGzip?
    /// Where `GzipStream.compress` writes before the bytes are framed into a connection's output.
    let scratch = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 32 * 1024)
    private static let maxIdle = 16

    deinit {
        scratch.deallocate()
    }

    /// A stream at `level`, or nil when `limit` streams are already in use.
    func take(level: Int, limit: Int) -> GzipStream? {
        guard active < limit else { return nil }
        let stream: GzipStream
        if let reused = idle.popLast(), reused.level == level {
            reused.reset()
            stream = reused
        } else {
            guard let fresh = GzipStream(level: level) else { return nil }
            stream = fresh
        }
        active += 1
        return stream
    }

    /// The whole-body compressor at `level` (made again when a reload changed the level), or
    /// nil when it cannot be made.
    func wholeBody(level: Int) -> WholeBodyGzip? {
        if let wholeBodyCompressor, wholeBodyCompressor.level == level { return wholeBodyCompressor }
        wholeBodyCompressor = WholeBodyGzip(level: level)
        return wholeBodyCompressor
    }

    func give(_ stream: GzipStream) {
        active -= 1
        if idle.count < Self.maxIdle { idle.append(stream) }
    }
}
