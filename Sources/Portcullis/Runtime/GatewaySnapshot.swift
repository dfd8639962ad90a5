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

    /// ACME HTTP-01 tokens (shared by every snapshot: tokens survive reloads).
    let challenges: ChallengeStore
    /// The port text for redirects to HTTPS ("" for 443); nil without an HTTPS listener.
    let redirectPort: [UInt8]?

    public init(config: GatewayConfig, generation: Int, certificates: CertificateStore?, challenges: ChallengeStore) {
        self.config = config
        self.generation = generation
        self.certificates = certificates
        self.challenges = challenges
        let httpsPort = config.tls.redirectPort != 0 ? config.tls.redirectPort
            : config.listeners.first { $0.scheme == .https }?.address.port
        redirectPort = httpsPort.map { $0 == 443 ? [] : Array(":\($0)".utf8) }
        hstsField = config.tls.hsts.isEmpty ? [] : Array("Strict-Transport-Security: \(config.tls.hsts)\r\n".utf8)
        router = Router(settings: config.routes, upstreamNames: config.upstreams.map(\.name), defaultMaxBody: config.maxBody)
    }
}
