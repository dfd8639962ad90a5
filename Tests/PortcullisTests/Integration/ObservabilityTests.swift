import Foundation
import Testing

/// What operators watch: the Grafana dashboard in `conf/grafana` names only metrics the
/// gateway exports, and `portcullis status` shows the running gateway on one screen.
@Suite struct ObservabilityTests {
    private static let token = ["PORTCULLIS_ADMIN_TOKEN": GatewayUnderTest.adminToken]

    @Test func theDashboardUsesOnlyExportedMetrics() throws {
        let origin = try Origin()
        let gateway = try GatewayUnderTest(upstreams: [origin.port], bothTransports: true)
        let exposition = try TestClient.get(port: gateway.adminPort, "/metrics").text
        // `# TYPE name kind`: every family is listed, with or without samples yet.
        var exported: [String: String] = [:]
        for line in exposition.split(separator: "\n") where line.hasPrefix("# TYPE ") {
            let words = line.split(separator: " ")
            exported[String(words[2])] = String(words[3])
        }
        #expect(exported.count > 20, "the gateway exports its families: \(exported.keys.sorted())")

        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../conf/grafana/portcullis-dashboard.json")
        let dashboard = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        var referenced = Set<String>()
        for panel in panels {
            let title = panel["title"] as? String ?? "?"
            #expect((panel["datasource"] as? [String: Any])?["uid"] as? String == "${datasource}", "\(title): the dashboard's data source")
            let targets = panel["targets"] as? [[String: Any]] ?? []
            #expect(!targets.isEmpty, "\(title) has queries")
            for target in targets {
                let expression = try #require(target["expr"] as? String)
                let names = expression.matches(of: /portcullis_[a-z_]+/).map { String($0.output) }
                #expect(!names.isEmpty, "\(title): \(expression) reads a Portcullis metric")
                referenced.formUnion(names)
            }
        }
        for name in referenced.sorted() {
            let histogramPart = ["_bucket", "_sum", "_count"].first { name.hasSuffix($0) }
            if let suffix = histogramPart, exported[name] == nil {
                let family = String(name.dropLast(suffix.count))
                #expect(exported[family] == "histogram", "the dashboard reads \(name), but \(family) is not an exported histogram")
            } else {
                #expect(exported[name] != nil, "the dashboard reads \(name), which the gateway does not export")
            }
        }
        let unused = exported.keys.filter { family in !referenced.contains { $0 == family || $0.hasPrefix(family + "_") } }
        #expect(unused.isEmpty, "exported but not on the dashboard: \(unused.sorted())")
    }

    @Test func statusShowsTheGatewayOnOneScreen() throws {
        let origin = try Origin()
        let gateway = try GatewayUnderTest(upstreams: [origin.port], bothTransports: true)
        #expect(try TestClient.get(port: gateway.adminPort, "/admin/status").status == 401, "the status needs the token")
        // Two events of two kinds: a malformed request and a blocklist change.
        if let client = try? TestClient(port: gateway.port) {
            try? client.send("GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n")
            _ = try? client.readResponse()
        }
        #expect(try gateway.admin("POST", "/admin/blocklist", body: #"{"cidr": "192.0.2.7", "reason": "status"}"#).status == 201)
        func status(_ extra: [String] = []) throws -> (Int32?, String) {
            let command = try ChildProcess(executable: BuiltProducts.path("portcullis"), arguments: ["status"] + gateway.adminArguments + extra,
                                           environment: Self.token)
            return (command.waitForExit(seconds: 10), command.output)
        }
        // Audit events are written every 50 ms.
        var screen = ""
        #expect(gateway.child.waitFor(seconds: 5) {
            screen = (try? status().1) ?? ""
            return screen.contains("BLOCKLIST_UPDATED 1") && screen.contains("MALFORMED_REQUEST 1")
        }, "\(screen)")
        let (exit, text) = try status()
        #expect(exit == 0)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("portcullis 0.1.0 (pid ") == true && lines.first?.contains("configuration generation 1, 2 worker(s)") == true, "\(text)")
        #expect(lines.contains { $0.hasPrefix("listening:") && $0.contains("http://127.0.0.1:\(gateway.port)") && $0.contains("https://127.0.0.1:\(gateway.tlsPort)") })
        #expect(lines.contains { $0.hasPrefix("certificate:  localhost") && $0.contains("day(s)") }, "\(text)")
        #expect(lines.contains { $0.hasPrefix("redis:        not configured") })
        #expect(lines.contains { $0.hasPrefix("blocklist:    1 entry") })
        #expect(lines.contains { $0.hasPrefix("connections:") && $0.contains("accepted since the start") })
        let (jsonExit, json) = try status(["--json"])
        let report = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        #expect(jsonExit == 0 && report?["config_generation"] as? Int == 1 && report?["workers"] as? Int == 2)

        let refused = try ChildProcess(executable: BuiltProducts.path("portcullis"), arguments: ["status"] + gateway.adminArguments,
                                       environment: ["PORTCULLIS_ADMIN_TOKEN": String(repeating: "w", count: 40)])
        #expect(refused.waitForExit(seconds: 10) == 1 && refused.output.contains("unauthorized"))
    }
}
