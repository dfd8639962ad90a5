/// A relayed response's way from the upstream's bytes to the client's, for one exchange: the
/// upstream's framing taken off (`ResponseCodec`), the body gzipped when it qualifies, the
/// client's framing put on (`encoder`: the client codec's `ResponseFraming`, `ResponseEncoder`
/// for HTTP/1.x).
///
/// gzip: a body of known length within `WholeBodyGzip.maxBody` waits in the upstream's read
/// buffer until it is whole and is compressed in one call (libdeflate); any other passes through
/// one of the worker's zlib streams, flushed whenever the upstream pauses so a streaming
/// response is not held back. Memory stays bounded by the buffers' high-water mark either way.
///
/// It knows no connection and no socket: it moves bytes from one buffer to another and says
/// what happened (`BodyStep`), and the exchange (`ProxyExchange+Proxying`) decides what
/// follows. Tests drive it with bytes alone (`ResponseRelayTests`).
struct ResponseRelay<Framing: ResponseFraming> {
    /// What one call to `relayBody` did.
    enum BodyStep: Equatable {
        /// Moved bytes (`true`) or found none to move. The body is complete once the codec's
        /// state is `.done`.
        case moved(Bool)
        /// The body ended with the upstream's connection: complete, and that connection cannot
        /// be reused.
        case endedByClose
        /// The upstream closed before the body was complete.
        case truncated
        /// The upstream's chunked framing is broken.
        case invalidChunk(String)
    }

    /// The client codec's side of the response.
    var encoder = Framing()
    /// How the body is compressed.
    private(set) var gzip: ResponseGzip = .off
    /// The worker's compressors, and the counters of bytes into and out of them.
    private let streams: GzipStreamPool
    private let metrics: WorkerMetrics

    init(streams: GzipStreamPool, metrics: WorkerMetrics) {
        self.streams = streams
        self.metrics = metrics
    }

    /// A final head arrived: the codec begins its body, and the client's framing is chosen (gzip
    /// off until `startGzipIfQualifies`). Takes the codec `inout` so that it is not copied.
    @inline(__always)
    mutating func begin(_ codec: inout ResponseCodec) {
        codec.beginBody()
        encoder.begin(codec.head)
    }

    /// Turns gzip on when the response qualifies (the request accepts it: the caller's check) and
    /// a compressor is free. The head's bytes are at `source`; the codec is `inout` only so that
    /// it is read in place (`OwnedSlot`), not copied.
    mutating func startGzipIfQualifies(_ codec: inout ResponseCodec, source: UnsafePointer<UInt8>, requestMethod: HTTPMethod, settings: GzipSettings,
                                       mediaTypes: [[UInt8]]) {
        guard GzipDecision.compresses(codec.head, source: source, requestMethod: requestMethod, settings: settings, mediaTypes: mediaTypes) else { return }
        if case .length = codec.framing, codec.remaining <= WholeBodyGzip.maxBody, let compressor = streams.wholeBody(level: settings.level) {
            gzip = .wholeBody(compressor)
        } else if let stream = streams.take(level: settings.level, limit: settings.maxStreams) {
            gzip = .streaming(stream, holdsData: false)
        } else {
            return
        }
        // The compressed length is not known in advance.
        encoder.compressing()
    }

    /// Moves body bytes from `source` (the upstream's read buffer; `upstreamEnded`: nothing more
    /// will come) to `output` while it holds fewer than `limit` bytes: de-framed, compressed,
    /// framed for the client.
    @inline(__always)
    mutating func relayBody(_ codec: inout ResponseCodec, from source: ByteBuffer, upstreamEnded: Bool, to output: ByteBuffer,
                            limit: Int) -> BodyStep {
        var moved = false
        while codec.state == .body && output.readableCount < limit {
            if source.isEmpty {
                guard upstreamEnded else {
                    flushGzip(to: output)
                    break
                }
                guard codec.framing == .untilClose else { return .truncated }
                finishBody(&codec, to: output)
                return .endedByClose
            }
            let room = limit - output.readableCount
            switch codec.framing {
            case .length:
                if case .wholeBody(let compressor) = gzip {
                    let count = Int(codec.remaining)
                    // The rest is on its way (it fits under the high-water mark: the reader reads on).
                    guard source.readableCount >= count else { return upstreamEnded ? .truncated : .moved(moved) }
                    metrics.gzipBytesIn.add(count)
                    let compressed = compressor.compress(source.readPointer, count: count)
                    appendCompressed(compressed.baseAddress!, count: compressed.count, to: output)
                    source.consume(count)
                    codec.remaining = 0
                    finishBody(&codec, to: output)
                    return .moved(true)
                }
                let count = Int(min(Int64(min(source.readableCount, room)), codec.remaining))
                appendData(source.readPointer, count: count, to: output)
                source.consume(count)
                codec.remaining -= Int64(count)
                if codec.remaining == 0 { finishBody(&codec, to: output) }
            case .untilClose:
                let count = min(source.readableCount, room)
                appendData(source.readPointer, count: count, to: output)
                source.consume(count)
            case .chunked:
                switch codec.decoder.next(source.readable, maxData: room) {
                case .data(let offset, let count):
                    appendData(source.readPointer + offset, count: count, to: output)
                    source.consume(offset + count)
                case .needMore(let consumed):
                    source.consume(consumed)
                    if consumed == 0 {
                        guard upstreamEnded else {
                            flushGzip(to: output)
                            return .moved(moved)
                        }
                        return .truncated
                    }
                case .end(let consumed):
                    source.consume(consumed)
                    finishBody(&codec, to: output)
                case .invalid(let reason):
                    return .invalidChunk("\(reason)")
                }
            case .none:
                codec.state = .done
            }
            moved = true
        }
        return .moved(moved)
    }

    /// Gives the zlib stream back (the response finished, or the exchange ended in the middle).
    @inline(__always)
    mutating func releaseGzip() {
        guard gzip.isOn else { return }
        if case .streaming(let stream, _) = gzip { streams.give(stream) }
        gzip = .off
    }

    // MARK: Body bytes

    /// Queues body bytes for the client: compressed when gzip streams, framed as the client's
    /// framing says.
    @inline(__always)
    private mutating func appendData(_ bytes: UnsafePointer<UInt8>, count: Int, to output: ByteBuffer) {
        guard gzip.isOn else {
            encoder.appendBody(bytes, count: count, to: output)
            return
        }
        guard case .streaming(let stream, _) = gzip, count > 0 else { return }
        metrics.gzipBytesIn.add(count)
        stream.compress(bytes, count: count, flush: .none, scratch: streams.scratch) { appendCompressed($0, count: $1, to: output) }
        gzip = .streaming(stream, holdsData: true)
    }

    /// The upstream has nothing more for now: send what zlib holds.
    private mutating func flushGzip(to output: ByteBuffer) {
        guard case .streaming(let stream, holdsData: true) = gzip else { return }
        stream.compress(nil, count: 0, flush: .sync, scratch: streams.scratch) { appendCompressed($0, count: $1, to: output) }
        gzip = .streaming(stream, holdsData: false)
    }

    /// The body is complete: the gzip trailer, the last chunk, done.
    @inline(__always)
    private mutating func finishBody(_ codec: inout ResponseCodec, to output: ByteBuffer) {
        if case .streaming(let stream, _) = gzip {
            stream.compress(nil, count: 0, flush: .finish, scratch: streams.scratch) { appendCompressed($0, count: $1, to: output) }
        }
        releaseGzip()
        encoder.finishBody(to: output)
        codec.state = .done
    }

    private func appendCompressed(_ bytes: UnsafePointer<UInt8>, count: Int, to output: ByteBuffer) {
        metrics.gzipBytesOut.add(count)
        encoder.appendBody(bytes, count: count, to: output)
    }
}
