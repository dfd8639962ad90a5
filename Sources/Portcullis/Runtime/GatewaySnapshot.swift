/// Everything a worker needs to serve requests under one configuration, built off the hot path
/// by the control thread and swapped whole. A request keeps the snapshot it started with, so a
/// reload never changes a request in flight.
public final class GatewaySnapshot: Sendable {
    /// Increases with every reload (1 at start).
    public let generation: Int
    public let config: GatewayConfig
    let router: Router
    /// The certificates for HTTPS listeners (nil without any).
    public let certificates: CertificateStore?
    /// The `Strict-Transport-Security` field sent on HTTPS responses, rendered once.
    let hstsField: [UInt8]

    public init(config: GatewayConfig, generation: Int, certificates: CertificateStore?) {
        self.config = config
        self.generation = generation
        self.certificates = certificates
        hstsField = config.tls.hsts.isEmpty ? [] : Array("Strict-Transport-Security: \(config.tls.hsts)\r\n".utf8)
        router = Router(settings: config.routes, upstreamNames: config.upstreams.map(\.name))
    }
}
