/// Puts a request path in the one form that routing, policy and the application all see, so a
/// variant of a protected path cannot slip past a rule that the application would still serve
/// (`/API/v1//auth/%6Cogin;x` is `/api/v1/auth/login` to many frameworks).
///
/// Two forms come out of one pass:
/// - the **forwarded** form: percent-encoded unreserved characters decoded and the remaining
///   escapes in upper case (RFC 3986 §6.2.2.1–2), repeated slashes merged; `;parameters` kept;
/// - the **matching** form: the forwarded form without `;parameters` in any segment, in lower
///   case unless matching is case-sensitive.
///
/// An encoded slash or backslash (`%2F`, `%5C`) is refused by default: servers disagree on
/// whether it separates segments. A `%` not followed by two hex digits is always refused.
/// Dot segments never get here (the parser refuses them, encoded or not).
public struct PathNormalizer: Sendable, Equatable {
    /// Why a path was refused (answered 400).
    public enum Failure: Error, Equatable, Sendable {
        case encodedSlash
        case invalidEscape

        public var reason: String {
            switch self {
            case .encodedSlash: return "encoded slash or backslash in path"
            case .invalidEscape: return "invalid percent-encoding in path"
            }
        }
    }

    /// Compare paths ignoring ASCII case (the matching form is lower case).
    public let caseInsensitive: Bool
    /// Refuse `%2F` and `%5C`; when false they are kept, encoded, in both forms.
    public let refuseEncodedSlashes: Bool

    public init(caseInsensitive: Bool = true, refuseEncodedSlashes: Bool = true) {
        self.caseInsensitive = caseInsensitive
        self.refuseEncodedSlashes = refuseEncodedSlashes
    }

    /// True when `path` is already its own matching form (no escape, no `//`, no `;`, and no
    /// upper-case letter when matching ignores case): the common case, checked without copying.
    public func isNormal(_ path: UnsafeBufferPointer<UInt8>) -> Bool {
        Self.scan(path, rejectingUpperCase: caseInsensitive)
    }

    /// True when `path` is already its own forwarded form (which keeps case and parameters).
    public func isForwardedForm(_ path: UnsafeBufferPointer<UInt8>) -> Bool {
        Self.scan(path, rejectingUpperCase: false)
    }

    private static func scan(_ path: UnsafeBufferPointer<UInt8>, rejectingUpperCase: Bool) -> Bool {
        var previous: UInt8 = 0
        for byte in path {
            if byte == ASCII.percent || byte == ASCII.semicolon || (byte == ASCII.slash && previous == ASCII.slash) { return false }
            if rejectingUpperCase && byte >= 65 && byte <= 90 { return false }
            previous = byte
        }
        return true
    }

    /// Appends the forwarded form of `path` to `forwarded` and the matching form to `matching`
    /// (either may be nil), or says why the path is refused (then what was appended is junk).
    public func normalize(_ path: UnsafeBufferPointer<UInt8>, forwarded: ByteBuffer?, matching: ByteBuffer?) -> Failure? {
        var inParameters = false
        var lastForwarded: UInt8 = 0
        var lastMatching: UInt8 = 0
        var index = 0
        while index < path.count {
            var byte = path[index]
            if byte == ASCII.percent {
                guard index + 2 < path.count, let high = Bytes.hexValue(path[index + 1]), let low = Bytes.hexValue(path[index + 2]) else {
                    return .invalidEscape
                }
                index += 3
                let decoded = high << 4 | low
                if refuseEncodedSlashes && (decoded == ASCII.slash || decoded == ASCII.backslash) { return .encodedSlash }
                if !Self.isUnreserved(decoded) {
                    let escape = (ASCII.percent, Self.upperHex(high), Self.upperHex(low))
                    forwarded?.append(byte: escape.0); forwarded?.append(byte: escape.1); forwarded?.append(byte: escape.2)
                    lastForwarded = escape.2
                    if !inParameters {
                        matching?.append(byte: escape.0); matching?.append(byte: lowered(escape.1)); matching?.append(byte: lowered(escape.2))
                        lastMatching = escape.2
                    }
                    continue
                }
                byte = decoded
            } else {
                index += 1
            }
            if byte == ASCII.slash {
                inParameters = false
                if lastForwarded != ASCII.slash { forwarded?.append(byte: byte) }
                if lastMatching != ASCII.slash { matching?.append(byte: byte) }
                lastForwarded = byte
                lastMatching = byte
                continue
            }
            forwarded?.append(byte: byte)
            lastForwarded = byte
            if byte == ASCII.semicolon { inParameters = true }
            if !inParameters {
                matching?.append(byte: lowered(byte))
                lastMatching = byte
            }
        }
        return nil
    }

    @inline(__always)
    private func lowered(_ byte: UInt8) -> UInt8 {
        caseInsensitive && byte >= 65 && byte <= 90 ? byte | 0x20 : byte
    }

    /// RFC 3986 §2.3: ALPHA / DIGIT / "-" / "." / "_" / "~".
    private static func isUnreserved(_ byte: UInt8) -> Bool {
        (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || (byte >= 48 && byte <= 57)
            || byte == 45 || byte == 46 || byte == 95 || byte == 126
    }

    private static func upperHex(_ value: UInt8) -> UInt8 {
        value < 10 ? value + 48 : value + 55
    }
}
