import Foundation

#if FUZZING
// `make fuzz` builds this target with `--sanitize fuzzer` and -DFUZZING: libFuzzer owns main
// and calls LLVMFuzzerTestOneInput with each input, handed here to the FUZZ_TARGET target.
let selectedTarget: @Sendable (UnsafeBufferPointer<UInt8>) -> Void = {
    let name = ProcessInfo.processInfo.environment["FUZZ_TARGET"] ?? ""
    guard let target = FuzzTargets.all[name] else {
        FileHandle.standardError.write(Data("set FUZZ_TARGET to one of: \(FuzzTargets.all.keys.sorted().joined(separator: ", "))\n".utf8))
        exit(2)
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    selectedTarget(UnsafeBufferPointer(start: data, count: size))
    return 0
}
#else
/// `portcullis-fuzz replay <target> <file or directory>…`: runs kept inputs through a fuzz
/// target without libFuzzer (`make test` replays the corpus in `Tests/FuzzCorpus` this way).
/// Debug builds only: the targets reach into the library's internals.
@main
struct FuzzReplay {
    static func main() {
        #if DEBUG
        let arguments = CommandLine.arguments
        guard arguments.count >= 4, arguments[1] == "replay", let target = FuzzTargets.all[arguments[2]] else {
            FileHandle.standardError.write(Data("usage: portcullis-fuzz replay <\(FuzzTargets.all.keys.sorted().joined(separator: "|"))> <file or directory>…\n".utf8))
            exit(2)
        }
        var replayed = 0
        for path in arguments[3...] {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            let files = isDirectory.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { "\(path)/\($0)" } : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                data.withUnsafeBytes { target(UnsafeBufferPointer(start: $0.bindMemory(to: UInt8.self).baseAddress, count: $0.count)) }
                replayed += 1
            }
        }
        print("replayed \(replayed) inputs through \(arguments[2])")
        #else
        FileHandle.standardError.write(Data("portcullis-fuzz works in debug builds: make fuzz, or the corpus replay of make test\n".utf8))
        exit(2)
        #endif
    }
}
#endif
