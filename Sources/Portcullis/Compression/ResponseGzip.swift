/// How the body of the response in flight is gzipped (`ResponseRelay`).
enum ResponseGzip {
    /// Sent as the upstream sent it.
    case off
    /// A known length within `WholeBodyGzip.maxBody`: held in the upstream's read buffer until
    /// its last byte has arrived, then compressed in one call.
    case wholeBody(WholeBodyGzip)
    /// Through a zlib stream as it arrives; `holdsData` once input went in since the last flush.
    case streaming(GzipStream, holdsData: Bool)

    var isOn: Bool {
        if case .off = self { return false }
        return true
    }

    /// A whole-body response still waiting for its body: nothing of it is sent before.
    var holdsWholeBody: Bool {
        if case .wholeBody = self { return true }
        return false
    }
}
