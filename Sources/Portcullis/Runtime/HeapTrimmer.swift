import CShims
import Glibc

/// Gives freed heap memory back to the system after a surge. The C allocator keeps what
/// connections freed for reuse: after 2,000 TLS connections closed, an idle gateway stayed at
/// 46 MB (nginx's worker does the same), and only `malloc_trim`, which returns the whole pages
/// inside free chunks of every arena, brings it back to 15 MB.
///
/// The control thread looks every `interval` at the process' slack: resident memory not in use
/// by the allocator's callers (`mallinfo2`: in use in the arenas and in mapped chunks). It
/// trims when the slack has grown by `threshold` since the last trim (or the start): memory
/// that connections hold does not count, so a load that grows is left alone, and a trim that
/// found nothing to return is not repeated until more is freed. A trim holds each arena's
/// lock while it walks it (a worker's `malloc` waits meanwhile): the log line says how long.
final class HeapTrimmer {
    /// How often the control thread looks.
    static let interval: UInt64 = 10_000_000_000
    /// Growth of the slack worth a trim.
    static let threshold = 4 << 20

    /// What one trim did.
    struct Outcome {
        /// Bytes the allocator held free before.
        var freeBytes: Int
        /// Resident memory of the process before and after.
        var residentBefore: Int
        var residentAfter: Int
        /// How long the trim took, in nanoseconds.
        var duration: UInt64
    }

    /// The smallest slack seen since the last trim, or since the start.
    private var baseSlack: Int

    init() {
        baseSlack = Self.residentBytes() - Self.heapInUse(mallinfo2())
    }

    /// Trims the heap if the slack grew by `threshold` and the allocator holds at least that
    /// much free; nil when it did not.
    func trimIfWorthIt() -> Outcome? {
        let heap = mallinfo2()
        let resident = Self.residentBytes()
        let slack = resident - Self.heapInUse(heap)
        guard slack >= baseSlack + Self.threshold, Int(heap.fordblks) >= Self.threshold else {
            baseSlack = min(baseSlack, slack)
            return nil
        }
        let started = MonotonicClock.now()
        malloc_trim(0)
        let duration = MonotonicClock.now() - started
        let residentAfter = Self.residentBytes()
        baseSlack = residentAfter - Self.heapInUse(heap)
        return Outcome(freeBytes: Int(heap.fordblks), residentBefore: resident, residentAfter: residentAfter, duration: duration)
    }

    /// Bytes the allocator's callers hold: in the arenas and in chunks mapped on their own.
    private static func heapInUse(_ heap: mallinfo2) -> Int {
        Int(heap.uordblks + heap.hblkhd)
    }

    /// Resident memory of this process (`/proc/self/statm`, second field, in pages); 0 if unreadable.
    private static func residentBytes() -> Int {
        guard let text = try? FileIO.readAll(path: "/proc/self/statm") else { return 0 }
        let fields = text.split(separator: UInt8(ascii: " "))
        guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
