import CZlib

/// One zlib deflate stream producing gzip, reused from response to response (`deflateReset`).
/// The `z_stream` lives at a fixed heap address: zlib keeps a pointer back to it.
final class GzipStream {
    private let stream: UnsafeMutablePointer<z_stream>
    let level: Int

    init?(level: Int) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        self.level = level
        guard czlib_deflate_init_gzip(stream, Int32(level)) == Z_OK else {
            stream.deallocate()
            return nil
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deallocate()
    }

    /// Starts a new gzip member for the next response.
    func reset() {
        deflateReset(stream)
    }

    /// How much input to hand over before the output is drained.
    enum Flush {
        /// Keep data back for better compression.
        case none
        /// Emit everything so far (the upstream paused: the client should not wait on us).
        case sync
        /// The end: emit everything and the gzip trailer.
        case finish

        var zlibValue: Int32 {
            switch self {
            case .none: Z_NO_FLUSH
            case .sync: Z_SYNC_FLUSH
            case .finish: Z_FINISH
            }
        }
    }

    /// Compresses `count` bytes (may be 0 to flush or finish), handing each piece of output to
    /// `emit`, which receives bytes in `scratch`.
    func compress(_ input: UnsafePointer<UInt8>?, count: Int, flush: Flush, scratch: UnsafeMutableBufferPointer<UInt8>,
                  emit: (UnsafePointer<UInt8>, Int) -> Void) {
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input)
        stream.pointee.avail_in = UInt32(count)
        while true {
            stream.pointee.next_out = scratch.baseAddress
            stream.pointee.avail_out = UInt32(scratch.count)
            let status = deflate(stream, flush.zlibValue)
            let produced = scratch.count - Int(stream.pointee.avail_out)
            if produced > 0 { emit(scratch.baseAddress!, produced) }
            // Z_BUF_ERROR only means "no progress possible": nothing left to do.
            if status == Z_STREAM_END || status == Z_STREAM_ERROR || status == Z_BUF_ERROR { return }
            if stream.pointee.avail_out != 0 && stream.pointee.avail_in == 0 { return }
        }
    }
}
