import Foundation
import Glibc

/// ACME HTTP-01 challenge responses (RFC 8555 §8.3): tokens pushed through the admin API (kept
/// for a TTL) and files certbot writes under `<webroot>/.well-known/acme-challenge/`. Shared by
/// all workers; only challenge requests touch it, so the lock is off the proxy's hot path.
public final class ChallengeStore: Sendable {
    private let pushed = Locked<[String: (keyAuthorization: String, expiresAt: UInt64)]>([:])

    public init() {}

    /// True for a token made only of base64url characters (what ACME servers issue).
    public static func isValidToken<S: Sequence>(_ token: S) -> Bool where S.Element == UInt8 {
        var count = 0
        for byte in token {
            let ok = (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || (byte >= 48 && byte <= 57) || byte == 45 || byte == 95
            guard ok else { return false }
            count += 1
        }
        return count > 0 && count <= 256
    }

    /// Stores a pushed key authorization until `ttl` (ns) from now.
    public func put(token: String, keyAuthorization: String, ttl: UInt64) {
        let expiresAt = MonotonicClock.now() + ttl
        pushed.withLock { $0[token] = (keyAuthorization, expiresAt) }
    }

    /// The pushed tokens still valid, with what is left of their TTL (ns): what a binary upgrade
    /// hands to the new process.
    func pushedTokens() -> [(token: String, keyAuthorization: String, remaining: UInt64)] {
        let now = MonotonicClock.now()
        return pushed.withLock { tokens in
            tokens.compactMap { token, entry in entry.expiresAt > now ? (token, entry.keyAuthorization, entry.expiresAt - now) : nil }
        }
    }

    /// Removes a pushed token; false when there was none.
    public func remove(token: String) -> Bool {
        pushed.withLock { $0.removeValue(forKey: token) != nil }
    }

    /// The key authorization for `token`: a pushed one, else the webroot file.
    func keyAuthorization(for token: String, webroot: String?) -> String? {
        let now = MonotonicClock.now()
        let fromPush: String? = pushed.withLock { tokens in
            guard let entry = tokens[token] else { return nil }
            if entry.expiresAt <= now {
                tokens.removeValue(forKey: token)
                return nil
            }
            return entry.keyAuthorization
        }
        if let fromPush { return fromPush }
        guard let webroot, !webroot.isEmpty else { return nil }
        return Self.readWebrootFile(webroot: webroot, token: token)
    }

    /// Reads `<webroot>/.well-known/acme-challenge/<token>`: a regular file of at most 4 KiB,
    /// not a symbolic link, inside the webroot once every link in the path is resolved.
    private static func readWebrootFile(webroot: String, token: String) -> String? {
        let directory = webroot + "/.well-known/acme-challenge"
        guard let resolvedRoot = realpath(webroot, nil), let resolvedDirectory = realpath(directory, nil) else { return nil }
        defer {
            free(resolvedRoot)
            free(resolvedDirectory)
        }
        let root = String(cString: resolvedRoot)
        guard String(cString: resolvedDirectory).hasPrefix(root + "/") else { return nil }
        let fd = open(String(cString: resolvedDirectory) + "/" + token, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_size <= 4096 else { return nil }
        guard let bytes = try? FileIO.readAll(fd, name: token) else { return nil }
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
