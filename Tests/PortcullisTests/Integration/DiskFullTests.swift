import Foundation
import Glibc
import Testing

/// A full disk under the audit log and the blocklist file (a 64 KB tmpfs, so root only):
/// requests keep flowing while audit writes fail, and a blocklist change answers 500 and leaves
/// the file and the running blocklist as they were.
@Suite(.enabled(if: getuid() == 0, "mounting a small tmpfs needs root"))
struct DiskFullTests {
    @Test func requestsFlowAndBlocklistChangesFailCleanly() throws {
        let mountPoint = FileManager.default.temporaryDirectory.appendingPathComponent("full-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
        let mount = try ChildProcess(executable: "/bin/mount", arguments: ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mountPoint.path])
        try #require(mount.waitForExit(seconds: 10) == 0, "mount: \(mount.output)")
        defer {
            _ = try? ChildProcess(executable: "/bin/umount", arguments: [mountPoint.path]).waitForExit(seconds: 10)
            try? FileManager.default.removeItem(at: mountPoint)
        }
        let blocklist = mountPoint.appendingPathComponent("blocklist.txt")
        try "203.0.113.1\n".write(to: blocklist, atomically: false, encoding: .utf8)
        let origin = try Origin()
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: """
            [audit]
            file = "\(mountPoint.appendingPathComponent("audit.log").path)"
            max_file_size = "1MB"

            [blocklist]
            file = "\(blocklist.path)"

            [[rate_limits]]
            match = "*"
            limit = 1
            window = "1h"
            """)
        // Fill the disk: a filler file takes what is left, so every audit write fails from now on.
        let filler = mountPoint.appendingPathComponent("filler")
        _ = FileManager.default.createFile(atPath: filler.path, contents: nil)
        let handle = try FileHandle(forWritingTo: filler)
        while (try? handle.write(contentsOf: Data(count: 4096))) != nil {}
        try? handle.close()
        // Rejected requests (each an audit event) and served ones keep coming back.
        var answered = 0
        for index in 0..<300 {
            let response = try TestClient.get(port: gateway.port, "/bytes/1", headers: ["X-I": String(index)])
            if response.status == 200 || response.status == 429 { answered += 1 }
        }
        #expect(answered == 300, "every request answered with the disk full")
        let before = try String(contentsOf: blocklist, encoding: .utf8)
        let change = try gateway.admin("POST", "/admin/blocklist", body: #"{"cidr": "198.51.100.0/24"}"#)
        #expect(change.status == 500, "\(change.status) \(change.text)")
        #expect(try String(contentsOf: blocklist, encoding: .utf8) == before, "the file is as it was")
        let listed = try gateway.admin("GET", "/admin/blocklist")
        #expect(!listed.text.contains("198.51.100.0/24"), "the running blocklist did not change either")
        #expect(try TestClient.get(port: gateway.port, "/bytes/1").status == 429, "still serving")
    }
}
