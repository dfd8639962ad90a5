@testable import Portcullis
import Foundation
import Glibc
import Testing

/// `StartupPages.release()` drops only pages it can read back from their file: a read-only
/// mapping written before it was made read-only keeps its bytes, a clean one leaves memory and
/// reads the same afterwards.
@Suite struct StartupPagesTests {
    /// Resident KiB of the mapping that holds `address`, from `/proc/self/smaps`.
    private func residentKiB(at address: UnsafeMutableRawPointer) throws -> Int {
        let smaps = try StartupPagesTests.smaps(of: "self")
        let target = UInt(bitPattern: address)
        let lines = smaps.split(separator: "\n")
        let header = lines.firstIndex { line in
            let range = line.split(separator: " ").first?.split(separator: "-").compactMap { UInt($0, radix: 16) } ?? []
            return range.count == 2 && range[0] <= target && target < range[1]
        }
        guard let header, let rss = lines[header...].first(where: { $0.hasPrefix("Rss:") }) else {
            throw HarnessError("no mapping holds \(address)")
        }
        return Int(rss.split(separator: " ").dropFirst().first { !$0.isEmpty } ?? "") ?? -1
    }

    /// `/proc/PID/smaps` whole (Foundation's `String(contentsOfFile:)` stops at the first read).
    static func smaps(of process: String) throws -> String {
        String(decoding: try FileIO.readAll(path: "/proc/\(process)/smaps"), as: UTF8.self)
    }

    @Test func cleanPagesLeaveAndModifiedOnesStay() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("startup-pages-\(UUID().uuidString)").path
        try Data(repeating: UInt8(ascii: "a"), count: 1 << 16).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        let size = 1 << 16
        let clean = try #require(mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0).flatMap { $0 == MAP_FAILED ? nil : $0 })
        let written = try #require(mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0).flatMap { $0 == MAP_FAILED ? nil : $0 })
        defer { munmap(clean, size); munmap(written, size) }
        var sum = 0
        for offset in stride(from: 0, to: size, by: 4096) { sum += Int(clean.load(fromByteOffset: offset, as: UInt8.self)) }
        written.storeBytes(of: UInt8(ascii: "b"), as: UInt8.self)
        #expect(mprotect(written, size, PROT_READ) == 0)
        #expect(try residentKiB(at: clean) == 64, "the clean mapping was read in whole (\(sum))")

        let released = try StartupPages.release()

        #expect(released.bytes >= 64 << 10)
        #expect(try residentKiB(at: clean) == 0, "clean file pages are unmapped")
        #expect(clean.load(as: UInt8.self) == UInt8(ascii: "a"), "and read back from the file")
        #expect(written.load(as: UInt8.self) == UInt8(ascii: "b"), "a page written before it became read-only keeps its bytes")
    }
}
