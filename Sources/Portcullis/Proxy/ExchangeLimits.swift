/// Bounds every exchange keeps, whatever its client.
enum ExchangeLimits {
    /// Most bytes buffered in one direction before reading from the sender pauses, so a fast
    /// sender never makes the gateway buffer a slow receiver's data (a connection's head reading
    /// and its tunnel keep the same bound).
    static let highWater = 64 * 1024
    /// Interim (1xx) responses relayed for one request at most; more is a 502 (a flood of 103s
    /// would otherwise be relayed without end).
    static let maxInterimResponses = 8
}
