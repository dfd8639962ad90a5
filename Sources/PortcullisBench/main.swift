import Glibc
import Portcullis

// `portcullis-bench blocklist [entries] [lookups]`: the blocklist micro-benchmark (bench/blocklist.sh).
let arguments = CommandLine.arguments.dropFirst()
guard arguments.first == "blocklist" else {
    print("usage: portcullis-bench blocklist [entries (1000000)] [lookups (1000000)]")
    exit(2)
}
let entries = arguments.dropFirst().first.flatMap { Int($0) } ?? 1_000_000
let lookups = arguments.dropFirst(2).first.flatMap { Int($0) } ?? 1_000_000
do {
    print(try BlocklistBenchmark.run(entries: entries, lookups: lookups))
} catch {
    print("portcullis-bench: \(error)")
    exit(1)
}
