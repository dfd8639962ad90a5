import Foundation
import Testing

/// Every input kept in `Tests/FuzzCorpus/<target>` (the seeds and whatever made a target fail
/// under `make fuzz`) goes through its fuzz target again: a fixed bug stays fixed.
@Suite struct FuzzCorpusTests {
    @Test(arguments: ["request", "response", "config", "blocklist", "acme"])
    func keptInputsPass(_ target: String) throws {
        let corpus = BuiltProducts.packageRoot.appendingPathComponent("Tests/FuzzCorpus/\(target)")
        let kept = try FileManager.default.contentsOfDirectory(atPath: corpus.path).count
        #expect(kept > 0, "the \(target) corpus is empty")
        let replay = try ChildProcess(executable: BuiltProducts.path("portcullis-fuzz"), arguments: ["replay", target, corpus.path],
                                      environment: [:])
        let status = replay.waitForExit(seconds: 120)
        #expect(status == 0, "\(replay.output)")
        #expect(replay.output.contains("replayed \(kept) inputs through \(target)"), "\(replay.output)")
    }
}
