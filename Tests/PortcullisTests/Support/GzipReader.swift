import CZlib

/// Inflates gzip incrementally (what a browser does), so a test can check 100 MB without
/// holding it.
final class GzipReader {
    private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    private(set) var finished = false
    private(set) var failed = false

    init() {
        stream.initialize(to: z_stream())
        _ = czlib_inflate_init_gzip(stream)
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    /// Feeds compressed bytes; `output` gets the inflated ones.
    func feed(_ bytes: [UInt8], output: ([UInt8]) -> Void) {
        var scratch = [UInt8](repeating: 0, count: 65536)
        bytes.withUnsafeBufferPointer { input in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.pointee.avail_in = UInt32(input.count)
            while !finished && !failed {
                let (status, produced) = scratch.withUnsafeMutableBufferPointer { out in
                    stream.pointee.next_out = out.baseAddress
                    stream.pointee.avail_out = UInt32(out.count)
                    let status = inflate(stream, Z_NO_FLUSH)
                    return (status, out.count - Int(stream.pointee.avail_out))
                }
                if produced > 0 { output(Array(scratch[0..<produced])) }
                if status == Z_STREAM_END { finished = true }
                if status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR { failed = true }
                if stream.pointee.avail_in == 0 && produced < scratch.count { break }
            }
        }
    }

    /// Inflates a whole gzip body.
    static func inflateAll(_ bytes: [UInt8]) -> [UInt8]? {
        let reader = GzipReader()
        var result: [UInt8] = []
        reader.feed(bytes) { result += $0 }
        return reader.finished && !reader.failed ? result : nil
    }
}
