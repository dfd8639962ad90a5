#if DEBUG
@testable import Portcullis

/// The inputs an attacker controls, each with the properties that must hold for every input
/// (beyond not crashing): parsed offsets stay inside the input, normalization is idempotent,
/// the blocklist file round-trips. Compiled in debug builds only: `make fuzz` builds them with
/// libFuzzer and AddressSanitizer, `make test` replays the kept corpus through them.
enum FuzzTargets {
    /// The targets by name (`FUZZ_TARGET`, and the corpus directory names).
    static let all: [String: @Sendable (UnsafeBufferPointer<UInt8>) -> Void] = [
        "request": request,
        "response": response,
        "config": config,
        "blocklist": blocklist,
        "acme": acmeToken,
    ]

    /// The request parser, then the chunked decoder on what follows the head, then the path
    /// normalizer on the parsed path.
    static func request(_ bytes: UnsafeBufferPointer<UInt8>) {
        var parser = RequestParser(limits: HeadLimits(maxRequestLine: 2048, maxHeaderBytes: 4096, maxHeaderCount: 32))
        var head = RequestHead()
        guard parser.parse(bytes, into: &head) == .complete else { return }
        let count = bytes.count
        for range in [head.methodRange, head.targetRange, head.pathRange, head.pathAndQueryRange] + [head.authorityRange].compactMap({ $0 }) {
            precondition(range.lowerBound >= 0 && range.upperBound <= head.headLength, "a parsed range leaves the head")
        }
        precondition(head.headLength <= count && !head.methodRange.isEmpty)
        for field in head.fields {
            precondition(field.nameStart < field.nameEnd && Int(field.valueEnd) <= head.headLength && field.valueStart <= field.valueEnd)
        }
        normalizedPathIsStable(UnsafeBufferPointer(rebasing: bytes[head.pathRange]))
        if head.bodyFraming == .chunked {
            decodeChunked(UnsafeBufferPointer(rebasing: bytes[head.headLength...]), pieceLimit: Int(bytes.first ?? 1) % 7 + 1)
        }
    }

    /// Normalizing the forwarded form again changes nothing, and neither form grows.
    private static func normalizedPathIsStable(_ path: UnsafeBufferPointer<UInt8>) {
        let normalizer = PathNormalizer()
        let forwarded = ByteBuffer(capacity: 64)
        let matching = ByteBuffer(capacity: 64)
        guard normalizer.normalize(path, forwarded: forwarded, matching: matching) == nil else { return }
        precondition(forwarded.readableCount <= path.count && matching.readableCount <= forwarded.readableCount)
        let again = ByteBuffer(capacity: 64)
        precondition(normalizer.normalize(forwarded.readable, forwarded: again, matching: nil) == nil)
        precondition(again.bytes == forwarded.bytes, "normalization is not idempotent")
    }

    /// Decodes a chunked body in pieces of at most `pieceLimit` bytes: every event stays inside
    /// the bytes it was given, and the decoder never asks for data it already has.
    private static func decodeChunked(_ body: UnsafeBufferPointer<UInt8>, pieceLimit: Int) {
        var decoder = ChunkedDecoder()
        var offset = 0
        var visible = min(body.count, 1)
        while offset < body.count {
            let window = UnsafeBufferPointer(rebasing: body[offset..<visible])
            switch decoder.next(window, maxData: pieceLimit) {
            case .data(let dataOffset, let count):
                precondition(count > 0 && count <= pieceLimit && dataOffset + count <= window.count)
                offset += dataOffset + count
            case .needMore(let consumed):
                precondition(consumed <= window.count)
                offset += consumed
                if consumed == 0 {
                    guard visible < body.count else { return }
                    visible += 1
                }
            case .end(let consumed):
                precondition(consumed <= window.count)
                return
            case .invalid:
                return
            }
            visible = max(visible, offset)
        }
    }

    /// The response parser, for a GET and for a HEAD.
    static func response(_ bytes: UnsafeBufferPointer<UInt8>) {
        for method in [HTTPMethod.get, .head] {
            let parser = ResponseParser()
            var head = ResponseHead()
            guard parser.parse(bytes, requestMethod: method, into: &head) == .complete else { continue }
            precondition(head.headLength <= bytes.count && head.status >= 100 && head.status <= 999)
            if head.bodyFraming == .chunked {
                decodeChunked(UnsafeBufferPointer(rebasing: bytes[head.headLength...]), pieceLimit: 3)
            }
        }
    }

    /// Configuration loading, environment expansion included: any text gives a configuration
    /// or errors, never a crash.
    static func config(_ bytes: UnsafeBufferPointer<UInt8>) {
        let text = String(decoding: bytes, as: UTF8.self)
        _ = try? ConfigLoader.parse(text: text, file: "fuzz.toml", environment: ["PORT": "8080", "EMPTY": "", "TOKEN": "x"])
    }

    /// The blocklist file: what parses renders back to text that parses to the same entries.
    static func blocklist(_ bytes: UnsafeBufferPointer<UInt8>) {
        let (entries, _) = BlocklistFile.parse(Array(bytes))
        let (again, errors) = BlocklistFile.parse(BlocklistFile.render(entries))
        precondition(errors.isEmpty, "a rendered blocklist does not parse: \(errors)")
        precondition(again == entries, "the blocklist file does not round-trip")
        for entry in entries { _ = CIDR.parse(entry.cidr.description) }
        _ = CIDR.parse(String(decoding: bytes, as: UTF8.self))
    }

    /// The ACME token check agrees with its definition: 1 to 256 base64url characters.
    static func acmeToken(_ bytes: UnsafeBufferPointer<UInt8>) {
        let expected = (1...256).contains(bytes.count) && bytes.allSatisfy { byte in
            (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || (byte >= 48 && byte <= 57) || byte == 45 || byte == 95
        }
        precondition(ChallengeStore.isValidToken(bytes) == expected, "the ACME token check disagrees with its definition")
    }
}
#endif
