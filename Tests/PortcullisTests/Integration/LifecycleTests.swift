import Foundation
import Glibc
import Synchronization
import Testing

/// Reload, drain, the admin listener and startup refusals of the real binary.
@Suite struct LifecycleTests {
    @Test func reloadDuringTrafficLosesNothing() throws {
        let first = try Origin(name: "first")
        let second = try Origin(name: "second")
        let gateway = try GatewayUnderTest(upstreams: [first.port])
        let failures = Atomic<Int>(0)
        let firstFailure = Mutex<String?>(nil)
        let served = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
        let port = gateway.port
        let load = (0..<4).map { worker in
            Thread {
                var client = try? TestClient(port: port)
                while !stop.load(ordering: .relaxed) {
                    do {
                        if client == nil || worker % 2 == 0 { client = try TestClient(port: port) }
                        try client!.send("GET /bytes/100 HTTP/1.1\r\nHost: a\r\n\r\n")
                        let response = try client!.readResponse()
                        if response.status == 200 && response.body.count == 100 {
                            served.add(1, ordering: .relaxed)
                        } else {
                            failures.add(1, ordering: .relaxed)
                            firstFailure.withLock { $0 = $0 ?? "status \(response.status): \(response.text)" }
                        }
                    } catch {
                        failures.add(1, ordering: .relaxed)
                        firstFailure.withLock { $0 = $0 ?? "\(error)" }
                        client = nil
                    }
                }
            }
        }
        load.forEach { $0.start() }
        // Traffic flows before, between and after the reloads; each reload waits until applied.
        func servedMore(_ count: Int) {
            let target = served.load(ordering: .relaxed) + count
            _ = gateway.child.waitFor(seconds: 10) { served.load(ordering: .relaxed) >= target }
        }
        for round in 0..<5 {
            servedMore(20)
            try gateway.reload(upstreams: [round % 2 == 0 ? second.port : first.port])
        }
        servedMore(40)
        stop.store(true, ordering: .relaxed)
        load.forEach { $0.waitUntilFinished() }
        #expect(failures.load(ordering: .relaxed) == 0, "first failure: \(firstFailure.withLock { $0 } ?? "-")\n\(gateway.child.output)")
        #expect(served.load(ordering: .relaxed) > 100)
        #expect(try gateway.metric("portcullis_config_generation") == 6)
        #expect(try gateway.get("/").header("X-Origin") == "second", "the last reload moved traffic to the second origin")
    }

    @Test func invalidReloadKeepsTheRunningConfiguration() throws {
        let origin = try Origin()
        let gateway = try GatewayUnderTest(upstreams: [origin.port])
        try "[server]\nworkers = \"lots\"\n".write(to: gateway.configURL, atomically: true, encoding: .utf8)
        gateway.child.send(SIGHUP)
        #expect(gateway.child.waitFor(seconds: 5) { gateway.child.output.contains("reload failed") })
        #expect(gateway.child.output.contains("server.workers"))
        #expect(try gateway.get("/bytes/3").status == 200)
        #expect(try gateway.metric("portcullis_config_generation") == 1)
    }

    @Test func sigtermDrainsInFlightRequests() throws {
        let origin = try Origin()
        let gateway = try GatewayUnderTest(upstreams: [origin.port])
        let slow = try TestClient(port: gateway.port)
        try slow.send("GET /slow/1200 HTTP/1.1\r\nHost: a\r\n\r\n")
        let idle = try TestClient(port: gateway.port)
        try idle.send("GET /bytes/1 HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try idle.readResponse().status == 200)
        #expect(gateway.child.waitFor(seconds: 5) { (try? origin.stats().requests) == 2 }, "the slow request is at the origin")
        gateway.child.send(SIGTERM)
        #expect(idle.isClosedByPeer(), "idle keep-alive connections close at once")
        let response = try slow.readResponse()
        #expect(response.status == 200)
        #expect(response.text == "slow 1200ms\n")
        #expect(response.header("Connection") == "close")
        #expect(gateway.child.waitForExit(seconds: 10) == 0)
        #expect(!TestClient.canConnect(port: gateway.port))
    }

    @Test func drainTimeoutBoundsTheStop() throws {
        let origin = try Origin()
        let gateway = try GatewayUnderTest(upstreams: [origin.port], extra: "[timeouts]\ndrain = \"300ms\"\n")
        let slow = try TestClient(port: gateway.port)
        try slow.send("GET /slow/5000 HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(gateway.child.waitFor(seconds: 5) { (try? origin.stats().requests) == 1 }, "the slow request is at the origin")
        let started = Date()
        gateway.child.send(SIGTERM)
        #expect(gateway.child.waitForExit(seconds: 4) == 0)
        #expect(Date().timeIntervalSince(started) < 3)
    }

    @Test func refusesToStartWithoutAGoodAdminToken() throws {
        for environment in [["PORTCULLIS_ADMIN_TOKEN": ""], ["PORTCULLIS_ADMIN_TOKEN": "too-short"]] {
            let gateway = try GatewayUnderTest(upstreams: [ClosedPort().port], environment: environment, waitUntilReady: false)
            #expect(gateway.child.waitForExit(seconds: 10) == 1)
            #expect(gateway.child.output.contains("PORTCULLIS_ADMIN_TOKEN"))
            #expect(!TestClient.canConnect(port: gateway.port))
        }
    }

    @Test func refusesToStartWithAnInvalidConfig() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).toml")
        try "[server]\nworkers = 0\nmystery = 1\n".write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        for command in ["run", "check"] {
            let child = try ChildProcess(executable: BuiltProducts.path("portcullis"), arguments: [command, "--config", url.path])
            #expect(child.waitForExit(seconds: 10) == 1)
            #expect(child.output.contains("line 2: server.workers"))
            #expect(child.output.contains("line 3: server.mystery: unknown key"))
        }
    }

    @Test func adminHealthAndMetrics() throws {
        let origin = try Origin()
        let gateway = try GatewayUnderTest(upstreams: [origin.port])
        #expect(try TestClient.get(port: gateway.adminPort, "/healthz").text == "{\"status\":\"ok\"}\n")
        for _ in 0..<3 { _ = try gateway.get("/bytes/1") }
        _ = try gateway.get("/status/503")
        #expect(try gateway.metric("portcullis_responses_total{class=\"2xx\"}") == 3)
        #expect(try gateway.metric("portcullis_responses_total{class=\"5xx\"}") == 1)
        #expect(try gateway.metric("portcullis_workers") == 2)
        let unknown = try TestClient.get(port: gateway.adminPort, "/admin/nothing")
        #expect(unknown.status == 401)
        #expect(unknown.header("WWW-Authenticate") == "Bearer")
        let authorised = try TestClient.get(port: gateway.adminPort, "/admin/nothing",
                                            headers: ["Authorization": "Bearer \(GatewayUnderTest.adminToken)"])
        #expect(authorised.status == 404)
    }

    @Test func metricsCanRequireTheToken() throws {
        let gateway = try GatewayUnderTest(upstreams: [ClosedPort().port])
        #expect(try TestClient.get(port: gateway.adminPort, "/metrics").status == 200)
        let guarded = try GatewayUnderTest(upstreams: [ClosedPort().port], adminOptions: "metrics_require_auth = true")
        #expect(try TestClient.get(port: guarded.adminPort, "/metrics").status == 401)
        let authorised = try TestClient.get(port: guarded.adminPort, "/metrics",
                                            headers: ["Authorization": "Bearer \(GatewayUnderTest.adminToken)"])
        #expect(authorised.status == 200 && authorised.text.contains("portcullis_workers 2"))
    }
}
