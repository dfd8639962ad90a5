import Foundation

/// The admin bearer token, read from the environment variable the config names. The gateway
/// refuses to start without one of at least 32 characters.
public struct AdminToken: Sendable {
    /// Shortest token accepted.
    public static let minimumLength = 32
    private let bytes: [UInt8]

    /// Reads the token; throws a message an operator can act on.
    public static func load(settings: AdminSettings, environment: [String: String] = ProcessInfo.processInfo.environment) throws(AdminTokenError) -> AdminToken {
        let name = settings.tokenEnvironmentVariable
        guard let value = environment[name], !value.isEmpty else {
            throw AdminTokenError(description: "the admin token is missing: set \(name) to a random secret of at least \(minimumLength) characters (for example: export \(name)=$(openssl rand -hex 32))")
        }
        guard value.utf8.count >= minimumLength else {
            throw AdminTokenError(description: "the admin token in \(name) is too short: \(value.utf8.count) characters, at least \(minimumLength) required")
        }
        return AdminToken(bytes: Array(value.utf8))
    }

    /// The `Authorization` field value for this token.
    public var authorizationValue: String { "Bearer " + String(decoding: bytes, as: UTF8.self) }

    /// Checks an `Authorization` value (`Bearer <token>`) in time independent of where it differs.
    public func accepts(authorization: String?) -> Bool {
        guard let authorization, authorization.hasPrefix("Bearer ") else { return false }
        let presented = Array(authorization.utf8.dropFirst(7))
        var difference = UInt8(presented.count == bytes.count ? 0 : 1)
        for index in 0..<bytes.count {
            let other = index < presented.count ? presented[index] : 0
            difference |= bytes[index] ^ other
        }
        return difference == 0
    }
}

/// Why the admin token cannot be used.
public struct AdminTokenError: Error, CustomStringConvertible {
    public let description: String
}
