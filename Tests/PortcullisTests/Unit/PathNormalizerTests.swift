@testable import Portcullis
import Testing

@Suite struct PathNormalizerTests {
    /// (path as sent, forwarded form, matching form), or a failure.
    private func normalize(_ path: String, _ normalizer: PathNormalizer = PathNormalizer()) -> (String, String)? {
        let forwarded = ByteBuffer(capacity: 16)
        let matching = ByteBuffer(capacity: 16)
        let failure = Array(path.utf8).withUnsafeBufferPointer { normalizer.normalize($0, forwarded: forwarded, matching: matching) }
        guard failure == nil else { return nil }
        return (String(decoding: forwarded.bytes, as: UTF8.self), String(decoding: matching.bytes, as: UTF8.self))
    }

    @Test(arguments: [
        ("/api/v1/auth/login", "/api/v1/auth/login", "/api/v1/auth/login"),
        ("/API/v1/auth/login", "/API/v1/auth/login", "/api/v1/auth/login"),
        ("/api/v1//auth/login", "/api/v1/auth/login", "/api/v1/auth/login"),
        ("//api///v1/auth/login//", "/api/v1/auth/login/", "/api/v1/auth/login/"),
        ("/api/v1/%61uth/login", "/api/v1/auth/login", "/api/v1/auth/login"),
        ("/api/v1/%41UTH/login", "/api/v1/AUTH/login", "/api/v1/auth/login"),
        ("/api/v1/auth;x/login", "/api/v1/auth;x/login", "/api/v1/auth/login"),
        ("/api/v1/auth;jsessionid=1;a=b/login;y", "/api/v1/auth;jsessionid=1;a=b/login;y", "/api/v1/auth/login"),
        ("/a%7e%2d%5F%2E%30", "/a~-_.0", "/a~-_.0"),
        ("/caf%c3%a9", "/caf%C3%A9", "/caf%c3%a9"),
        ("/a%20b", "/a%20b", "/a%20b"),
        ("/a%3Bb/c", "/a%3Bb/c", "/a%3bb/c"),
        ("/", "/", "/"),
    ])
    func normalizes(_ raw: String, _ forwarded: String, _ matching: String) throws {
        let (gotForwarded, gotMatching) = try #require(normalize(raw))
        #expect(gotForwarded == forwarded)
        #expect(gotMatching == matching)
        let normalizer = PathNormalizer()
        let isNormal = Array(raw.utf8).withUnsafeBufferPointer { normalizer.isNormal($0) }
        #expect(!isNormal || raw == matching, "the fast check never skips a path the full pass would change")
    }

    @Test func caseSensitiveMatchingKeepsCase() throws {
        let (_, matching) = try #require(normalize("/API/%41", PathNormalizer(caseInsensitive: false)))
        #expect(matching == "/API/A")
    }

    @Test(arguments: ["/a%2Fb", "/a%2fb", "/a%5Cb", "/a%5c", "/a%", "/a%4", "/a%zz", "/a%4g/b"])
    func refuses(_ raw: String) {
        #expect(normalize(raw) == nil)
    }

    @Test func encodedSlashesCanBeKept() throws {
        let (forwarded, matching) = try #require(normalize("/a%2fb%5c", PathNormalizer(refuseEncodedSlashes: false)))
        #expect(forwarded == "/a%2Fb%5C")
        #expect(matching == "/a%2fb%5c")
        #expect(normalize("/a%zz", PathNormalizer(refuseEncodedSlashes: false)) == nil)
    }
}
