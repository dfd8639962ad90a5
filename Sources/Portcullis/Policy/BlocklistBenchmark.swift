import Glibc

/// The blocklist micro-benchmark behind `bench/blocklist.sh`: writes a file of random entries,
/// loads it the way the gateway does, and times lookups of random addresses (half of them
/// blocked). Prints load time, memory per entry and the lookup time distribution.
public enum BlocklistBenchmark {
    public static func run(entries: Int, lookups: Int) throws -> String {
        var generator = SystemRandomNumberGenerator()
        var lines: [UInt8] = []
        var blockedSamples: [IPAddress] = []
        lines.reserveCapacity(entries * 18)
        for index in 0..<entries {
            let address = UInt32.random(in: 0x0B00_0000...0xDF00_0000, using: &generator)
            let text: String
            if index % 10 == 9 {
                text = "\(address >> 24).\((address >> 16) & 255).\((address >> 8) & 255).0/24\n"
            } else {
                text = "\(address >> 24).\((address >> 16) & 255).\((address >> 8) & 255).\(address & 255)\n"
            }
            if blockedSamples.count < 100_000 { blockedSamples.append(IPAddress(v4: address)) }
            lines.append(contentsOf: text.utf8)
        }
        let path = "/tmp/portcullis-blocklist-bench-\(getpid()).txt"
        try AtomicFile.write(lines, to: path)
        defer { unlink(path) }
        lines = []

        let rssBefore = residentKiB()
        let loadStart = MonotonicClock.now()
        let store = try BlocklistStore(path: path)
        let loadNanoseconds = MonotonicClock.now() - loadStart
        let rssAfter = residentKiB()
        let blocklist = store.current
        let tableBytes = blocklist.table.memoryBytes

        var probes: [IPAddress] = []
        probes.reserveCapacity(lookups)
        for index in 0..<lookups {
            probes.append(index % 2 == 0 ? blockedSamples[index / 2 % blockedSamples.count]
                                         : IPAddress(v4: UInt32.random(in: 0...UInt32.max, using: &generator)))
        }
        probes.shuffle(using: &generator)
        let batch = 1000
        var perLookup: [Double] = []
        var blocked = 0
        var start = 0
        while start < probes.count {
            let end = min(start + batch, probes.count)
            let began = MonotonicClock.now()
            for index in start..<end where blocklist.blocks(probes[index], now: 1) { blocked += 1 }
            perLookup.append(Double(MonotonicClock.now() - began) / Double(end - start))
            start = end
        }
        perLookup.sort()
        let median = perLookup[perLookup.count / 2]
        let p99 = perLookup[perLookup.count * 99 / 100]
        let count = blocklist.table.count
        return """
            entries loaded:        \(count) (\(entries) lines)
            load time:             \(loadNanoseconds / 1_000_000) ms (parse + insert)
            lookup table:          \(tableBytes / count) bytes per entry (\(tableBytes / 1_048_576) MiB)
            resident memory added: \((rssAfter - rssBefore) * 1024 / max(count, 1)) bytes per entry during the load (includes the parse buffers)
            lookups:               \(lookups), \(blocked) blocked; median \(String(Int(median))) ns, p99 \(Int(p99)) ns (per lookup, batches of \(batch))
            """
    }

    private static func residentKiB() -> Int {
        guard let file = fopen("/proc/self/status", "r") else { return 0 }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix("VmRSS:") { return Int(text.split(separator: " ").dropFirst().first { !$0.isEmpty } ?? "0") ?? 0 }
        }
        return 0
    }
}
