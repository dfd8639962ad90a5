/// gzip on the way out: the decision when the response head arrives, then body bytes pass
/// through the worker's zlib stream. Output is flushed whenever the upstream pauses, so a
/// streaming response is not held back; memory stays bounded by the usual 64 KiB buffers.
extension ClientConnection {
    /// Called once the response head is parsed and the client framing chosen.
    func startGzipIfQualifies(source: UnsafePointer<UInt8>) {
        let settings = snapshot.config.gzip
        guard exchange.acceptsGzip,
              GzipDecision.compresses(response.head, source: source, requestMethod: exchange.method, settings: settings, mediaTypes: snapshot.gzipMediaTypes),
              let stream = worker.gzipStreams.take(level: settings.level, limit: settings.maxStreams) else { return }
        gzip = stream
        gzipHoldsData = false
        // The compressed length is not known in advance.
        response.clientFraming = exchange.clientMinorVersion == 1 ? .chunked : .untilClose
    }

    func compressResponseData(_ bytes: UnsafePointer<UInt8>, count: Int) {
        guard let gzip, count > 0 else { return }
        worker.metrics.gzipBytesIn.add(count)
        gzip.compress(bytes, count: count, flush: .none, scratch: worker.gzipStreams.scratch) { appendCompressed($0, count: $1) }
        gzipHoldsData = true
    }

    /// The upstream has nothing more for now: send what zlib holds.
    func flushGzip() {
        guard let gzip, gzipHoldsData else { return }
        gzip.compress(nil, count: 0, flush: .sync, scratch: worker.gzipStreams.scratch) { appendCompressed($0, count: $1) }
        gzipHoldsData = false
    }

    /// The response body is complete: the gzip trailer, the last chunk, done.
    func finishResponseBody() {
        if let gzip {
            gzip.compress(nil, count: 0, flush: .finish, scratch: worker.gzipStreams.scratch) { appendCompressed($0, count: $1) }
            releaseGzip()
        }
        if case .chunked = response.clientFraming { ChunkedEncoder.appendLastChunk(to: output) }
        response.state = .done
    }

    private func appendCompressed(_ bytes: UnsafePointer<UInt8>, count: Int) {
        worker.metrics.gzipBytesOut.add(count)
        appendFramed(bytes, count: count)
    }

    /// Gives the stream back (response finished, or the connection closed in the middle).
    func releaseGzip() {
        guard let gzip else { return }
        worker.gzipStreams.give(gzip)
        self.gzip = nil
    }
}
