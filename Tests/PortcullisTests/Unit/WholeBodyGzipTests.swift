import Testing
@testable import Portcullis

/// The whole-body compressor (libdeflate) at every level the configuration takes, on empty,
/// tiny, compressible and incompressible bodies up to its limit: each inflates back to the
/// input, and the output, bound included, fits the buffer it is written to.
@Suite struct WholeBodyGzipTests {
    static let bodies: [[UInt8]] = {
        var random = SystemRandomNumberGenerator()
        let text = Array(String(repeating: #"{"id": 7, "name": "user-7", "active": true}, "#, count: 800).utf8.prefix(WholeBodyGzip.maxBody))
        return [[], [65], Array(text.prefix(1000)), text, (0..<WholeBodyGzip.maxBody).map { _ in UInt8.random(in: 0...255, using: &random) }]
    }()

    @Test(arguments: 1...9)
    func inflatesToTheInput(level: Int) throws {
        let compressor = try #require(WholeBodyGzip(level: level))
        for body in Self.bodies {
            // One byte more, so even the empty body has an address.
            let compressed = Array((body + [0]).withUnsafeBufferPointer { compressor.compress($0.baseAddress!, count: body.count) })
            #expect(!compressed.isEmpty && GzipReader.inflateAll(compressed) == body, "level \(level), \(body.count) bytes")
        }
    }

    @Test func compressesText() throws {
        let compressor = try #require(WholeBodyGzip(level: 1))
        let text = Self.bodies[3]
        let compressed = text.withUnsafeBufferPointer { compressor.compress($0.baseAddress!, count: $0.count) }
        #expect(compressed.count < text.count / 10)
    }
}
