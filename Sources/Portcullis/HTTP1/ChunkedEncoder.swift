/// Writes chunked framing (RFC 9112 §7.1) around data the gateway forwards.
enum ChunkedEncoder {
    @inline(__always)
    static func appendChunk(_ bytes: UnsafePointer<UInt8>, count: Int, to out: ByteBuffer) {
        guard count > 0 else { return }
        out.append(hex: count)
        out.append("\r\n")
        out.append(bytes, count: count)
        out.append("\r\n")
    }

    @inline(__always)
    static func appendLastChunk(to out: ByteBuffer) {
        out.append("0\r\n\r\n")
    }
}
