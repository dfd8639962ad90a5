import Logging

/// What the gateway asks of Redis, whether that is one server (`RedisConnection`) or a Redis
/// Cluster (`RedisCluster`, which routes each command to the node owning its key's slot).
/// Everything runs on one loop; replies come back in the order commands were sent to a node.
protocol RedisClient: AnyObject {
    /// Commands can be sent now (for a cluster: the slot map is known and every node in it
    /// is connected).
    var isReady: Bool { get }
    /// Sent on every (re)connection, before the connection counts as ready: AUTH and SELECT
    /// from the URL, then whatever the owner adds (scripts to load).
    var setupCommands: [RedisCommand] { get set }
    /// Called each time the client becomes ready.
    var onReady: (() -> Void)? { get set }
    /// Called when a connection attempt fails or a ready client is lost, with the reason and
    /// whether it had been ready.
    var onLost: ((_ reason: String, _ wasReady: Bool) -> Void)? { get set }
    /// Connects, and keeps reconnecting after failures, until `stop`.
    func start()
    /// Drops every connection for good.
    func stop()
    /// Sends a command; `handle` gets the reply, or nil when the connection fails first. False
    /// (and no call) when it cannot be sent now.
    @discardableResult
    func send(_ command: RedisCommand, handle: @escaping (RedisValue?) -> Void) -> Bool
}

extension RedisSettings {
    /// The client `url` asks for: a cluster for `redis+cluster://`, else one connection.
    func makeClient(loop: EventLoop, log: Logger) -> RedisClient {
        isCluster ? RedisCluster(settings: self, loop: loop, log: log) : RedisConnection(settings: self, loop: loop, log: log)
    }
}
