/// What an exchange (`ProxyExchange`) asks of the client side that drives it, and all it may
/// touch of it: the request as the client's codec parsed it, the two byte buffers, reading and
/// flushing, the clocks of progress, who the client is, and how the exchange hands it back.
/// Every phase of the exchange is written against this protocol, so the compiler checks that
/// none reaches into a connection's socket, TLS session or phase.
///
/// `ClientConnection` (HTTP/1.1: one exchange at a time, reused) is the one client there is.
/// An HTTP/2 stream would be another: its HEADERS decoded into a `RequestCodec`'s head, its
/// DATA frames the body bytes in `input`, `output` its share of the connection's frames, a
/// `Framing` of HEADERS and DATA frames, and `exchangeEnded` the stream's end instead of the
/// connection's next request. The exchange is generic over its client type (`ProxyExchange<Client>`):
/// specialized for each, at no cost per call.
protocol ExchangeClient: AnyObject {
    /// How the client's codec puts a relayed response on its wire (`ResponseEncoder` for
    /// HTTP/1.x).
    associatedtype Framing: ResponseFraming

    /// The request direction of the client's codec: the parsed head (read in place, through
    /// its address) and the body's framing and decoding.
    var request: RequestCodec { get set }
    /// What the client sent that is not consumed yet: the request head, then body bytes.
    var input: ByteBuffer { get }
    /// What goes to the client, and how many bytes of it already left (`bytesFlushed`, for the
    /// access log and for taking back a response nothing of which reached the client).
    var output: ByteBuffer { get }
    var bytesFlushed: Int64 { get }
    /// The client will send nothing more: it closed its side, or the connection broke.
    var clientGone: Bool { get }
    /// False once the client is closed.
    var isOpen: Bool { get }
    /// The client's address, its forwarding facts (the address as text, scheme, port) and the
    /// listener's own address, the `Host` of last resort for HTTP/1.0 requests without one.
    var peerAddress: IPAddress { get }
    var forwarding: ForwardingContext { get }
    var localHost: [UInt8] { get }
    /// Last time request bytes moved (read from the client, written upstream), and response
    /// bytes (read from the upstream, written to the client): the idle clocks run from these.
    var requestProgressAt: UInt64 { get set }
    var responseProgressAt: UInt64 { get set }

    /// Writes the gateway's own answer to the current request into `output`, in the client's
    /// codec (`GatewayResponse` for HTTP/1.x); with `headOnly` (a `HEAD`) the head alone.
    func writeAnswer(_ answer: LocalAnswer, requestID: RequestID, keepAlive: Bool, headOnly: Bool, added: AddedFields)
    /// Reads more from the client when it is readable; true if anything changed.
    func readClient() -> Bool
    /// Writes pending output to the client; true if anything was written.
    func flushClient() -> Bool
    /// Makes all the progress possible now (after an answer from Redis, or an upstream event).
    func drive()
    /// Closes the client (cutting a response already under way).
    func close()
    /// The exchange is over: with `keepAlive` the client may send its next request.
    func exchangeEnded(keepAlive: Bool)
    /// The exchange relayed a `101`: from now on the client and the upstream are a tunnel.
    func startTunnel()
}
