/// The header policy of one route, rendered once per configuration snapshot: the fields the
/// gateway adds to responses (HSTS only on HTTPS, where browsers honour it: RFC 6797 §7.2) and
/// the upstream fields it drops. Applying it per response appends a prepared block of bytes.
final class ResponseHeaderPolicy: Sendable {
    struct Field: Sendable {
        let lowercaseName: [UInt8]
        /// `Name: value\r\n`.
        let line: [UInt8]
        let httpsOnly: Bool
    }

    let fields: [Field]
    /// Upstream fields always removed (lower-case names).
    let stripped: [[UInt8]]
    /// Keep an upstream field the profile also sets, instead of replacing it.
    let upstreamWins: Bool
    private let httpsBlock: [UInt8]
    private let plainBlock: [UInt8]
    /// Bit n set when some name above has n bytes: most upstream fields are dismissed by one test.
    private let nameLengths: UInt64

    /// The policy of a route: its profile, then its own additions (replacing fields of the same
    /// name) and removals.
    init(settings: SecurityHeaderSettings, route: RouteHeaderSettings) {
        var chosen = settings.profiles[route.profile] ?? []
        for added in route.add {
            chosen.removeAll { $0.name.lowercased() == added.name.lowercased() }
            chosen.append(added)
        }
        let removed = Set(route.remove.map { $0.lowercased() })
        chosen.removeAll { removed.contains($0.name.lowercased()) }
        fields = chosen.map { setting in
            let name = setting.name.lowercased()
            return Field(lowercaseName: Array(name.utf8), line: Array("\(setting.name): \(setting.value)\r\n".utf8),
                         httpsOnly: name == "strict-transport-security")
        }
        stripped = settings.strip.map { Array($0.lowercased().utf8) }
        upstreamWins = route.upstreamWins ?? settings.upstreamWins
        httpsBlock = fields.flatMap(\.line)
        plainBlock = fields.filter { !$0.httpsOnly }.flatMap(\.line)
        var lengths: UInt64 = 0
        for name in fields.map(\.lowercaseName) + stripped where name.count < 64 { lengths |= 1 << UInt64(name.count) }
        nameLengths = lengths
    }

    /// Every field of the policy, for a response on a secure (HTTPS) connection or not.
    @inline(__always)
    func block(secure: Bool) -> [UInt8] { secure ? httpsBlock : plainBlock }

    /// What happens to an upstream field with this name.
    enum UpstreamFieldFate {
        case keep
        case drop
        /// Kept, and the policy's field at this index is not added.
        case keepInsteadOf(Int)
    }

    @inline(__always)
    func fate(ofUpstreamField name: UnsafePointer<UInt8>, count: Int) -> UpstreamFieldFate {
        guard count < 64, nameLengths & (1 << UInt64(count)) != 0 else { return .keep }
        for strippedName in stripped where Bytes.equalsLowercase(name, count, strippedName) { return .drop }
        for (index, field) in fields.enumerated() where Bytes.equalsLowercase(name, count, field.lowercaseName) {
            return upstreamWins ? .keepInsteadOf(index) : .drop
        }
        return .keep
    }

    /// Appends the policy's fields except those the upstream's own replaced (bit n: field n).
    func append(secure: Bool, except replaced: UInt64, to out: ByteBuffer) {
        guard replaced != 0 else {
            out.append(block(secure: secure))
            return
        }
        for (index, field) in fields.enumerated() where replaced & (1 << UInt64(index)) == 0 && (secure || !field.httpsOnly) {
            out.append(field.line)
        }
    }
}

/// The fields the gateway adds to one response: its route's header policy (HSTS only on
/// HTTPS) and the rate-limit status of the request.
struct AddedFields {
    let policy: ResponseHeaderPolicy
    let secure: Bool
    /// `X-RateLimit-*` lines, or empty.
    let rateLimit: [UInt8]
    /// The `Date` line, added unless the upstream sent its own.
    let date: [UInt8]

    @inline(__always)
    func append(exceptReplaced replaced: UInt64 = 0, withDate: Bool = true, to out: ByteBuffer) {
        if withDate { out.append(date) }
        policy.append(secure: secure, except: replaced, to: out)
        out.append(rateLimit)
    }
}
