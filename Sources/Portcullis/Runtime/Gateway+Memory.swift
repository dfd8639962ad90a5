/// Memory the gateway gives back: the code pages start-up touched (`StartupPages`) and heap
/// memory freed after a surge of connections (`HeapTrimmer`).
extension Gateway {
    /// Unmaps the code pages loading the configuration touched (`StartupPages`): after the start
    /// and after every reload, which runs the loader again.
    func releaseStartupPages() {
        do {
            let released = try StartupPages.release()
            log.info("released \(released.bytes / 1024) KiB of start-up pages from \(released.mappings) read-only mappings")
        } catch {
            log.warning("start-up pages stay resident: \(error)")
        }
    }

    /// Returns freed heap memory to the system after the process grew (`HeapTrimmer`).
    func trimHeap(_ trimmer: HeapTrimmer) {
        guard let trim = trimmer.trimIfWorthIt() else { return }
        let mib = { (bytes: Int) in String(bytes >> 20) }
        log.info("returned freed heap memory: \(mib(trim.freeBytes)) MiB free, resident \(mib(trim.residentBefore)) → \(mib(trim.residentAfter)) MiB, in \(trim.duration / 1000) µs")
    }
}
