/// Everything a worker needs to serve requests under one configuration, built off the hot path
/// by the control thread and swapped whole. A request keeps the snapshot it started with, so a
/// reload never changes a request in flight.
public final class GatewaySnapshot: Sendable {
    /// Increases with every reload (1 at start).
    public let generation: Int
    public let config: GatewayConfig
    let router: Router

    public init(config: GatewayConfig, generation: Int) {
        self.config = config
        self.generation = generation
        router = Router(settings: config.routes, upstreamNames: config.upstreams.map(\.name))
    }
}
