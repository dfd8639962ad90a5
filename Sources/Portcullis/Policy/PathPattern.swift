/// A rate-limit rule's `match`: an optional method and a path glob, compared against request
/// bytes without allocating.
///
/// In the glob, `*` matches any run of characters inside one path segment (not `/`); a `*` at
/// the very end matches everything after it, slashes included, so `/api/v1/auth/*` also covers
/// `/api/v1/auth/login/` and deeper paths, and a final `/*` covers the path without it too
/// (`POST /api/v1/auth/*` protects `POST /api/v1/auth`). A lone `*` matches every request. The
/// query string is not part of the path; paths arrive in their matching form (`PathNormalizer`).
struct PathPattern: Sendable, Equatable {
    /// Upper-case method, or empty for any.
    let method: [UInt8]
    private(set) var glob: [UInt8]

    /// `caseInsensitive`: the glob is kept in lower case, like the paths it is compared with.
    init?(_ text: String, caseInsensitive: Bool = false) {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        switch parts.count {
        case 1:
            method = []
            glob = Array(parts[0].utf8)
        case 2:
            guard parts[0].utf8.allSatisfy({ $0 >= 65 && $0 <= 90 }) else { return nil }
            method = Array(parts[0].utf8)
            glob = Array(parts[1].utf8)
        default:
            return nil
        }
        guard glob == [UInt8(ascii: "*")] || glob.first == ASCII.slash else { return nil }
        if caseInsensitive { glob = glob.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 } }
    }

    /// True when the request's method and path (no query) match.
    func matches(method requestMethod: UnsafeBufferPointer<UInt8>, path: UnsafeBufferPointer<UInt8>) -> Bool {
        if !method.isEmpty && !method.elementsEqual(requestMethod) { return false }
        return matches(path: path)
    }

    /// True when every request `other` matches is matched by this pattern too (checked on
    /// `other`'s glob as text, where only this pattern's `*` can stand for `other`'s `*`: may
    /// answer false for some covering pairs, never true for one that does not cover).
    func covers(_ other: PathPattern) -> Bool {
        if !method.isEmpty && method != other.method { return false }
        var paths = [other.glob]
        if other.glob.count >= 2 && other.glob.suffix(2).elementsEqual("/*".utf8) { paths.append(Array(other.glob.dropLast(2))) }
        return paths.allSatisfy { path in path.withUnsafeBufferPointer { matches(path: $0) } }
    }

    /// True when every request matches (no method, glob `*` or `/*`).
    var matchesEverything: Bool { method.isEmpty && (glob.elementsEqual("*".utf8) || glob.elementsEqual("/*".utf8)) }

    @inline(__always)
    private func matches(path: UnsafeBufferPointer<UInt8>) -> Bool {
        glob.withUnsafeBufferPointer { pattern in
            if Self.globMatches(pattern, path) { return true }
            // `/a/*` also covers `/a`: the glob without its final `/*`, matched whole.
            guard pattern.count >= 2, pattern[pattern.count - 1] == Self.star, pattern[pattern.count - 2] == ASCII.slash else { return false }
            return Self.globMatches(UnsafeBufferPointer(rebasing: pattern[0..<(pattern.count - 2)]), path)
        }
    }

    private static let star = UInt8(ascii: "*")

    /// Iterative matching with one backtrack point per segment: linear in practice, never
    /// exponential.
    static func globMatches(_ pattern: UnsafeBufferPointer<UInt8>, _ text: UnsafeBufferPointer<UInt8>) -> Bool {
        var p = 0
        var t = 0
        var starP = -1
        var starT = 0
        while t < text.count {
            if p < pattern.count && pattern[p] == star {
                if p == pattern.count - 1 { return true }
                starP = p
                starT = t
                p += 1
            } else if p < pattern.count && pattern[p] == text[t] {
                p += 1
                t += 1
            } else if starP >= 0 && text[starT] != ASCII.slash {
                starT += 1
                t = starT
                p = starP + 1
            } else {
                return false
            }
        }
        while p < pattern.count && pattern[p] == star { p += 1 }
        return p == pattern.count
    }
}
