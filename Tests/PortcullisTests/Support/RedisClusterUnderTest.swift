import Foundation

/// A real three-master Redis Cluster on free loopback ports: three `redis-server
/// --cluster-enabled yes`, slots assigned by `redis-cli --cluster create`, ready once every
/// node reports `cluster_state:ok` and the same slot map.
final class RedisClusterUnderTest: @unchecked Sendable {
    let nodes: [RedisServer]
    private let directory: URL

    init() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-cluster-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.directory = directory
        // The bus port is picked too: by default it is the port + 10000, which may be taken or
        // past 65535 (redis-server then exits).
        nodes = try (0..<3).map { _ in
            try RedisServer(extraArguments: ["--cluster-enabled", "yes", "--cluster-config-file", directory.path + "/nodes-{port}.conf",
                                             "--cluster-port", String(ClosedPort().port), "--cluster-node-timeout", "5000",
                                             "--dir", directory.path])
        }
        let created = try ChildProcess.output(of: "/usr/bin/redis-cli", ["--cluster", "create"] + nodes.map { "127.0.0.1:\($0.port)" }
                                                  + ["--cluster-replicas", "0", "--cluster-yes"], seconds: 30)
        guard created.status == 0 else { throw HarnessError("redis-cli --cluster create failed: \(created.output)") }
        let agreed = nodes[0].child.waitFor(seconds: 20) {
            let maps = self.nodes.map { (try? $0.cli(["CLUSTER", "SLOTS"])) ?? "" }
            return self.nodes.allSatisfy { ((try? $0.cli(["CLUSTER", "INFO"])) ?? "").contains("cluster_state:ok") }
                && Set(maps).count == 1 && !maps[0].isEmpty
        }
        guard agreed else { throw HarnessError("the cluster did not come up: \(created.output)") }
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// `redis+cluster://` with every node as a seed.
    var url: String { "redis+cluster://" + nodes.map { "127.0.0.1:\($0.port)" }.joined(separator: ",") }

    /// The node id of a node (`CLUSTER MYID`).
    func id(of node: RedisServer) throws -> String {
        try node.cli(["CLUSTER", "MYID"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The node holding keys that match `pattern`, and those keys.
    func keys(matching pattern: String) throws -> [(node: RedisServer, keys: [String])] {
        try nodes.map { node in (node, try node.cli(["--raw", "KEYS", pattern]).split(separator: "\n").map(String.init)) }
            .filter { !$0.keys.isEmpty }
    }

    /// The slot of `key` (`CLUSTER KEYSLOT`).
    func slot(of key: String) throws -> Int {
        guard let slot = Int(try nodes[0].cli(["--raw", "CLUSTER", "KEYSLOT", key]).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw HarnessError("no slot for \(key)")
        }
        return slot
    }

    /// The node serving `slot`, by its own `CLUSTER NODES` line
    /// (`<id> <addr> myself,master - 0 0 <epoch> connected <slot ranges…>`).
    func owner(of slot: Int) throws -> RedisServer {
        let owner = try nodes.first { node in
            guard let line = try node.cli(["CLUSTER", "NODES"]).split(separator: "\n").first(where: { $0.contains("myself") }) else { return false }
            return line.split(separator: " ").dropFirst(8).contains { range in
                let bounds = range.split(separator: "-").compactMap { Int($0) }
                return bounds.count == 1 ? bounds[0] == slot : bounds.count == 2 && (bounds[0]...bounds[1]).contains(slot)
            }
        }
        guard let owner else { throw HarnessError("no node serves slot \(slot)") }
        return owner
    }

    /// Starts moving `slot` from `source` to `target` and moves its keys (the slot is then
    /// migrating: its missing keys are answered with ASK).
    func beginMoving(slot: Int, from source: RedisServer, to target: RedisServer) throws {
        try expectOK(target.cli(["CLUSTER", "SETSLOT", String(slot), "IMPORTING", id(of: source)]))
        try expectOK(source.cli(["CLUSTER", "SETSLOT", String(slot), "MIGRATING", id(of: target)]))
        let keys = try source.cli(["--raw", "CLUSTER", "GETKEYSINSLOT", String(slot), "1000"]).split(separator: "\n").map(String.init)
        if !keys.isEmpty {
            try expectOK(source.cli(["MIGRATE", "127.0.0.1", String(target.port), "", "0", "5000", "KEYS"] + keys))
        }
    }

    /// Ends a move: every node learns that `target` owns `slot` (the others answer MOVED).
    func finishMoving(slot: Int, to target: RedisServer) throws {
        let targetID = try id(of: target)
        for node in nodes { try expectOK(node.cli(["CLUSTER", "SETSLOT", String(slot), "NODE", targetID])) }
    }

    private func expectOK(_ reply: String) throws {
        guard reply.trimmingCharacters(in: .whitespacesAndNewlines) == "OK" else { throw HarnessError("redis-cli: \(reply)") }
    }
}
