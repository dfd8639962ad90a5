/// gzip on the way out: the decision when the response head arrives, then the body. A body of
/// known length within `WholeBodyGzip.maxBody` waits in the upstream's read buffer until it is
/// whole and is compressed in one call (libdeflate); any other passes through the worker's zlib
/// stream, flushed whenever the upstream pauses so a streaming response is not held back.
/// Memory stays bounded by the usual 64 KiB buffers either way.
extension ClientConnection {
    /// Called once the response head is parsed and the client framing chosen.
    func startGzipIfQualifies(source: UnsafePointer<UInt8>) {
        let settings = snapshot.config.gzip
        guard exchange.acceptsGzip,
              GzipDecision.compresses(response.head, source: source, requestMethod: exchange.method, settings: settings, mediaTypes: snapshot.gzipMediaTypes)
        else { return }
        if case .length = response.framing, response.remaining <= WholeBodyGzip.maxBody,
           let compressor = worker.gzipStreams.wholeBody(level: settings.level) {
            gzip = .wholeBody(compressor)
        } else if let stream = worker.gzipStreams.take(level: settings.level, limit: settings.maxStreams) {
            gzip = .streaming(stream, holdsData: false)
        } else {
            return
        }
        // The compressed length is not known in advance.
        responseEncoder.compressing()
    }

    /// The whole body, `count` bytes, has arrived: compress it in one call.
    func compressWholeBody(_ bytes: UnsafePointer<UInt8>, count: Int, with compressor: WholeBodyGzip) {
        worker.metrics.gzipBytesIn.add(count)
        let compressed = compressor.compress(bytes, count: count)
        appendCompressed(compressed.baseAddress!, count: compressed.count)
    }

    func compressResponseData(_ bytes: UnsafePointer<UInt8>, count: Int) {
        guard case .streaming(let stream, _) = gzip, count > 0 else { return }
        worker.metrics.gzipBytesIn.add(count)
        stream.compress(bytes, count: count, flush: .none, scratch: worker.gzipStreams.scratch) { appendCompressed($0, count: $1) }
        gzip = .streaming(stream, holdsData: true)
    }

    /// The upstream has nothing more for now: send what zlib holds.
    func flushGzip() {
        guard case .streaming(let stream, holdsData: true) = gzip else { return }
        stream.compress(nil, count: 0, flush: .sync, scratch: worker.gzipStreams.scratch) { appendCompressed($0, count: $1) }
        gzip = .streaming(stream, holdsData: false)
    }

    /// The response body is complete: the gzip trailer, the last chunk, done.
    func finishResponseBody() {
        if case .streaming(let stream, _) = gzip {
            stream.compress(nil, count: 0, flush: .finish, scratch: worker.gzipStreams.scratch) { appendCompressed($0, count: $1) }
        }
        releaseGzip()
        responseEncoder.finishBody(to: transport.output)
        response.state = .done
    }

    private func appendCompressed(_ bytes: UnsafePointer<UInt8>, count: Int) {
        worker.metrics.gzipBytesOut.add(count)
        responseEncoder.appendBody(bytes, count: count, to: transport.output)
    }

    /// Gives the stream back (response finished, or the connection closed in the middle).
    @inline(__always)
    func releaseGzip() {
        guard gzip.isOn else { return }
        if case .streaming(let stream, _) = gzip { worker.gzipStreams.give(stream) }
        gzip = .off
    }
}
