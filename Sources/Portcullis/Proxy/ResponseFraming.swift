/// The client codec's side of a relayed response: how its head and body are put on the
/// client's wire. The exchange and `ResponseRelay` call only this; `ResponseEncoder` is the
/// HTTP/1.x one (`Content-Length` or chunks, `Connection`, interim heads), and an HTTP/2
/// stream would bring HEADERS and DATA frames (`ExchangeClient.Framing`). A value started
/// afresh for each request. Heads are taken `inout` only so that they are read in place in
/// the codec's slot (`OwnedSlot`).
protocol ResponseFraming {
    init()
    /// A new request; `clientMinorVersion` is its HTTP/1 minor version (1 for a codec without).
    mutating func start(clientMinorVersion: Int)
    /// The upstream's final head arrived: choose the body's framing from it.
    mutating func begin(_ head: ResponseHead)
    /// The gateway compresses the body: its length is no longer known in advance.
    mutating func compressing()
    /// Only the end of the connection can end the body: the client cannot be kept.
    var bodyEndsWithClose: Bool { get }
    /// Writes the final head, announcing whether the client stays open (`keepAlive`).
    func writeHead(_ head: inout ResponseHead, from source: UnsafePointer<UInt8>, requestID: RequestID, keepAlive: Bool, added: AddedFields,
                   into out: ByteBuffer)
    /// Relays an interim (1xx) head, where the client can take one.
    func writeInterimHead(_ head: inout ResponseHead, from source: UnsafePointer<UInt8>, requestID: RequestID, added: AddedFields, into out: ByteBuffer)
    /// Writes a `101 Switching Protocols` head: what follows is the tunnel's.
    func writeSwitchingProtocols(_ head: inout ResponseHead, from source: UnsafePointer<UInt8>, requestID: RequestID, added: AddedFields, into out: ByteBuffer)
    /// Queues body bytes, framed.
    func appendBody(_ bytes: UnsafePointer<UInt8>, count: Int, to out: ByteBuffer)
    /// The body is complete.
    func finishBody(to out: ByteBuffer)
}
