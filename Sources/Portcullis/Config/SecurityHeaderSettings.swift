/// One response header field the gateway sets.
public struct HeaderFieldSetting: Sendable, Equatable {
    public var name: String
    public var value: String
}

/// `[security_headers]`: the fields added to responses, grouped in named profiles that routes
/// pick, and the upstream fields removed.
public struct SecurityHeaderSettings: Sendable, Equatable {
    /// Upstream response fields removed (default `Server`, `X-Powered-By`).
    public var strip: [String]
    /// When the upstream sends a field the profile sets: true keeps the upstream's value, false
    /// (default) replaces it with the gateway's.
    public var upstreamWins: Bool
    /// Profiles by name; `default` is always present and `none` is always empty.
    public var profiles: [String: [HeaderFieldSetting]]

    /// What an absent `[security_headers]` table means.
    static let defaults = SecurityHeaderSettings(strip: ["Server", "X-Powered-By"], upstreamWins: false,
                                                 profiles: ["default": defaultProfile(hstsPreload: false), "none": []])

    /// The default profile: OWASP's secure headers recommendations. `X-XSS-Protection: 0` turns
    /// off the legacy XSS auditor of old browsers, which could itself be abused to leak data;
    /// the Content-Security-Policy is the protection that counts.
    static func defaultProfile(hstsPreload: Bool) -> [HeaderFieldSetting] {
        [
            HeaderFieldSetting(name: "Strict-Transport-Security",
                               value: "max-age=31536000; includeSubDomains" + (hstsPreload ? "; preload" : "")),
            HeaderFieldSetting(name: "Content-Security-Policy", value: "default-src 'self'"),
            HeaderFieldSetting(name: "X-Frame-Options", value: "DENY"),
            HeaderFieldSetting(name: "X-Content-Type-Options", value: "nosniff"),
            HeaderFieldSetting(name: "Referrer-Policy", value: "strict-origin-when-cross-origin"),
            HeaderFieldSetting(name: "Permissions-Policy", value: "camera=(), microphone=(), geolocation=()"),
            HeaderFieldSetting(name: "X-XSS-Protection", value: "0"),
        ]
    }
}

/// A route's changes to its header profile.
public struct RouteHeaderSettings: Sendable, Equatable {
    /// The profile's name (`default`, `none`, or one of `[security_headers.profiles]`).
    public var profile: String
    /// Fields added, or replacing the profile's field of the same name.
    public var add: [HeaderFieldSetting]
    /// Profile fields this route does not send.
    public var remove: [String]
    /// Overrides `[security_headers] upstream_wins` for this route.
    public var upstreamWins: Bool?

    /// The default profile, unchanged.
    static let standard = RouteHeaderSettings(profile: "default", add: [], remove: [], upstreamWins: nil)
}

extension SecurityHeaderSettings {
    init(reading table: TableReader) {
        defer { table.rejectUnknownKeys() }
        strip = table.strings("strip", default: ["Server", "X-Powered-By"])
        for (index, name) in strip.enumerated() where !HeaderFieldSetting.isValidName(name) {
            table.report("strip[\(index)]", "\"\(name)\" is not a valid field name")
        }
        upstreamWins = table.bool("upstream_wins", default: false)
        let hstsPreload = table.bool("hsts_preload", default: false)
        let profileTable = table.table("profiles")
        var profiles: [String: [HeaderFieldSetting]] = ["default": Self.defaultProfile(hstsPreload: hstsPreload), "none": []]
        for name in profileTable.keys {
            if name == "none" { profileTable.report(name, "\"none\" is reserved for the empty profile") }
            profiles[name] = HeaderFieldSetting.read(profileTable.table(name))
        }
        self.profiles = profiles
    }
}

extension RouteHeaderSettings {
    /// Reads `security_headers`, `add_headers`, `remove_headers` and `upstream_headers_win`
    /// from a `[[routes]]` table.
    init(reading table: TableReader) {
        profile = table.string("security_headers", default: "default")
        add = HeaderFieldSetting.read(table.table("add_headers"))
        remove = table.strings("remove_headers", default: [])
        upstreamWins = table.optionalBool("upstream_headers_win")
    }
}

extension HeaderFieldSetting {
    /// Reads a table of `"Field-Name" = "value"` pairs, reporting invalid names and values.
    static func read(_ table: TableReader) -> [HeaderFieldSetting] {
        table.keys.compactMap { name in
            guard let value = table.optionalString(name) else { return nil }
            guard isValidName(name) else {
                table.report(name, "\"\(name)\" is not a valid field name")
                return nil
            }
            guard value.utf8.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }), value.first != " ", value.last != " " else {
                table.report(name, "a field value cannot hold control characters or start or end with a space")
                return nil
            }
            return HeaderFieldSetting(name: name, value: value)
        }
    }

    /// RFC 9110 token characters.
    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { ByteClass.table[Int($0)] & ByteClass.token != 0 }
    }
}
