import Foundation
import Glibc
import Testing

/// The gateway gives back the code pages loading its configuration touched, after the start and
/// after each reload, and serves on both transports from what comes back on demand.
@Suite struct StartupPagesReleaseTests {
    /// KiB in the last "released N KiB of start-up pages" line.
    private func lastReleasedKiB(_ gateway: GatewayUnderTest) -> Int {
        let line = gateway.child.output.split(separator: "\n").last { $0.contains("of start-up pages") } ?? ""
        guard let range = line.range(of: "released ") else { return 0 }
        return Int(line[range.upperBound...].prefix { $0.isNumber }) ?? 0
    }

    /// Resident KiB of the process' read-only file mappings (the ones the release applies to).
    private func readOnlyFileResidentKiB(pid: pid_t) throws -> Int {
        let smaps = try StartupPagesTests.smaps(of: "\(pid)")
        var total = 0
        var counting = false
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.first?.contains("-") == true, fields.count >= 5 {
                counting = fields[1].hasPrefix("r-") && fields[1].hasSuffix("p") && fields[4] != "0"
            } else if counting, fields.first == "Rss:", fields.count >= 2 {
                total += Int(fields[1]) ?? 0
            }
        }
        return total
    }

    private func expectServed(_ gateway: GatewayUnderTest) throws {
        for transport in Transport.allCases {
            let client = try gateway.client(transport)
            try client.send("GET /bytes/40000 HTTP/1.1\r\nHost: a\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 200 && response.body.count == 40_000, "\(transport)")
        }
    }

    @Test func startupCodeLeavesAndServingBringsBackLess() throws {
        let origin = try Origin()
        let gateway = try GatewayUnderTest(upstreams: [origin.port], bothTransports: true)
        #expect(gateway.child.waitFor(seconds: 5) { lastReleasedKiB(gateway) > 0 })
        let released = lastReleasedKiB(gateway)
        #expect(released > 1024, "the configuration loader, OpenSSL's set-up and the runtime's start touch more than 1 MiB of code")

        try expectServed(gateway)
        let resident = try readOnlyFileResidentKiB(pid: gateway.child.pid)
        print("released \(released) KiB at start; read-only file pages resident after serving both transports: \(resident) KiB")
        #expect(resident < released, "serving maps back less than start-up had mapped")

        gateway.child.send(SIGHUP)
        #expect(gateway.child.waitFor(seconds: 10) { gateway.child.lineCount(containing: "of start-up pages") == 2 }, "released again after a reload")
        try expectServed(gateway)
    }
}
