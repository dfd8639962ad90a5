import Logging

/// A Redis Cluster as one `RedisClient`: one `RedisConnection` per master node, and a slot map
/// (`CLUSTER SLOTS`) that sends each command to the node owning its key's slot. A `MOVED`
/// reply updates the map (and asks for a fresh one) and resends the command to the new owner;
/// an `ASK` reply sends `ASKING` and the command to the node importing the slot, once.
///
/// It is ready when the map is known and every node owning slots is connected: while a node
/// is away the whole client is not ready, so rate limits follow `on_redis_failure` for every
/// key (not only the keys of that node's slots), as with a single Redis that is down. A lost
/// node also makes the client ask a live one for the map again, which is how it learns about
/// a replica promoted in its place.
final class RedisCluster: RedisClient {
    private struct Node {
        enum State {
            case connecting
            case ready
            case down
            /// Owns no slots in the latest map: its connection is stopped.
            case retired
        }

        let endpoint: RedisSettings.Endpoint
        let connection: RedisConnection
        var state = State.connecting
    }

    private let settings: RedisSettings
    private unowned(unsafe) let loop: EventLoop
    private let log: Logger
    private var nodes: [Node] = []
    /// The node index owning each slot (`noOwner` until the map says).
    private var owners = [UInt16](repeating: RedisCluster.noOwner, count: RedisSlot.count)
    private static let noOwner = UInt16.max
    private var mapKnown = false
    private var mapRequested = false
    private var started = false
    private(set) var isReady = false
    /// A command redirected more often than this gets the last redirection as its reply.
    private static let maximumRedirections = 5

    var setupCommands: [RedisCommand] {
        didSet { for node in nodes { node.connection.setupCommands = setupCommands } }
    }
    var onReady: (() -> Void)?
    var onLost: ((_ reason: String, _ wasReady: Bool) -> Void)?

    init(settings: RedisSettings, loop: EventLoop, log: Logger) {
        self.settings = settings
        self.loop = loop
        self.log = log
        setupCommands = RedisConnection.handshake(for: settings)
        for seed in settings.endpoints { _ = node(at: seed) }
    }

    func start() {
        started = true
        for node in nodes where node.state != .retired { node.connection.start() }
    }

    func stop() {
        started = false
        for node in nodes { node.connection.stop() }
    }

    @discardableResult
    func send(_ command: RedisCommand, handle: @escaping (RedisValue?) -> Void) -> Bool {
        guard isReady, let target = command.slot.map({ Int(owners[$0]) }) ?? nodes.firstIndex(where: { $0.state == .ready }),
              target != Int(Self.noOwner) else { return false }
        return send(command, to: target, asking: false, redirectionsLeft: Self.maximumRedirections, handle: handle)
    }

    private func send(_ command: RedisCommand, to target: Int, asking: Bool, redirectionsLeft: Int,
                      handle: @escaping (RedisValue?) -> Void) -> Bool {
        let connection = nodes[target].connection
        if asking && !connection.send(RedisCommand("ASKING"), handle: { _ in }) { return false }
        return connection.send(command) { [unowned self] reply in
            guard case .error(let message)? = reply, let redirect = RedisRedirect(message), redirectionsLeft > 0 else {
                handle(reply)
                return
            }
            let next = self.node(at: self.endpoint(of: redirect, answeredBy: target))
            if redirect.kind == .moved {
                self.owners[redirect.slot] = UInt16(next)
                self.updateReadiness(reason: "slot \(redirect.slot) moved to a node not connected yet")
                self.requestMap()
            }
            if !self.send(command, to: next, asking: redirect.kind == .ask, redirectionsLeft: redirectionsLeft - 1, handle: handle) {
                handle(nil)
            }
        }
    }

    // MARK: Nodes

    /// The index of the node at `endpoint`, connecting to it if it is new (or retired).
    private func node(at endpoint: RedisSettings.Endpoint) -> Int {
        if let index = nodes.firstIndex(where: { $0.endpoint == endpoint }) {
            if nodes[index].state == .retired {
                nodes[index].state = .connecting
                if started { nodes[index].connection.start() }
            }
            return index
        }
        let index = nodes.count
        let connection = RedisConnection(settings: settings, loop: loop, log: log, endpoints: [endpoint])
        connection.setupCommands = setupCommands
        connection.onReady = { [unowned self] in self.nodeReady(index) }
        connection.onLost = { [unowned self] reason, _ in self.nodeLost(index, reason: reason) }
        nodes.append(Node(endpoint: endpoint, connection: connection))
        if started { connection.start() }
        return index
    }

    private func nodeReady(_ index: Int) {
        nodes[index].state = .ready
        if !mapKnown { requestMap() }
        updateReadiness(reason: "")
    }

    private func nodeLost(_ index: Int, reason: String) {
        guard nodes[index].state != .retired else { return }
        nodes[index].state = .down
        let text = "node \(nodes[index].endpoint): \(reason)"
        if isReady {
            updateReadiness(reason: text)
        } else {
            onLost?(text, false)
        }
        requestMap()
    }

    /// Ready when the map is known and every node owning slots is connected; tells the owner
    /// when that changes.
    private func updateReadiness(reason: String) {
        let ready = mapKnown && owners.allSatisfy { $0 == Self.noOwner || nodes[Int($0)].state == .ready }
        guard ready != isReady else { return }
        isReady = ready
        if ready {
            onReady?()
        } else {
            onLost?(reason, true)
        }
    }

    // MARK: The slot map

    /// Asks a connected node for `CLUSTER SLOTS`, unless a request is already out; without a
    /// connected node, the next node to connect asks.
    private func requestMap() {
        guard !mapRequested, let asked = nodes.firstIndex(where: { $0.state == .ready }) else { return }
        mapRequested = true
        let sent = nodes[asked].connection.send(RedisCommand("CLUSTER", "SLOTS")) { [unowned self] reply in
            self.mapRequested = false
            // No reply: the node went away meanwhile, and its loss asks again.
            guard let reply else { return }
            guard let ranges = RedisSlotRange.ranges(in: reply), !ranges.isEmpty else {
                if case .error(let message) = reply, message.contains("cluster support disabled") {
                    self.log.error("redis: \(self.nodes[asked].endpoint) is not a Redis Cluster (\(message)); for a single server use redis://")
                } else {
                    self.log.warning("redis cluster: \(self.nodes[asked].endpoint) gave no slot map: \(reply)")
                }
                return
            }
            self.apply(ranges, answeredBy: asked)
        }
        if !sent { mapRequested = false }
    }

    /// Takes a new map: nodes new to it are connected, nodes that own nothing any more retired.
    private func apply(_ ranges: [RedisSlotRange], answeredBy answering: Int) {
        var newOwners = [UInt16](repeating: Self.noOwner, count: RedisSlot.count)
        for range in ranges {
            let owner = UInt16(node(at: endpoint(host: range.host, port: range.port, answeredBy: answering)))
            for slot in range.slots { newOwners[slot] = owner }
        }
        owners = newOwners
        var owning = Set(owners)
        owning.remove(Self.noOwner)
        for index in nodes.indices where !owning.contains(UInt16(index)) && nodes[index].state != .retired {
            nodes[index].state = .retired
            nodes[index].connection.stop()
        }
        if !mapKnown { log.info("redis cluster: \(owning.count) masters serve the slots") }
        mapKnown = true
        updateReadiness(reason: "a node in the new slot map is not connected")
    }

    private func endpoint(of redirect: RedisRedirect, answeredBy answering: Int) -> RedisSettings.Endpoint {
        endpoint(host: redirect.host, port: redirect.port, answeredBy: answering)
    }

    /// A node announces an empty host when it does not know its address: the one we reached it at.
    private func endpoint(host: String, port: Int, answeredBy answering: Int) -> RedisSettings.Endpoint {
        guard host.isEmpty, case .tcp(let knownHost, _) = nodes[answering].endpoint else { return .tcp(host: host, port: port) }
        return .tcp(host: knownHost, port: port)
    }
}
