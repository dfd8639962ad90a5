/// `[requests]`: which methods are served and how request paths are put in one form before
/// routing and policy (`PathNormalizer`).
public struct RequestSettings: Sendable, Equatable {
    /// Methods served; any other gets 501. Method names are case-sensitive (RFC 9110 §9.1):
    /// `post` is not `POST` and never slips past a `POST` rule.
    public var allowedMethods: [String]
    /// How paths are normalized and compared.
    public var paths: PathNormalizer

    /// The RFC 9110 methods plus PATCH (RFC 5789). CONNECT and TRACE stay refused with 405.
    static let defaultMethods = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]
}

extension RequestSettings {
    init(reading table: TableReader) {
        defer { table.rejectUnknownKeys() }
        allowedMethods = table.strings("allowed_methods", default: Self.defaultMethods)
        for (index, method) in allowedMethods.enumerated() where method.isEmpty || !method.utf8.allSatisfy(Self.isTokenByte) {
            table.report("allowed_methods[\(index)]", "\"\(method)\" is not a method name (letters, digits and !#$%&'*+-.^_`|~)")
        }
        let caseSensitive = table.bool("path_case_sensitive", default: false)
        let encodedSlashes = table.string("encoded_slashes", default: "reject")
        if encodedSlashes != "reject" && encodedSlashes != "keep" {
            table.report("encoded_slashes", "must be \"reject\" or \"keep\", got \"\(encodedSlashes)\"")
        }
        paths = PathNormalizer(caseInsensitive: !caseSensitive, refuseEncodedSlashes: encodedSlashes != "keep")
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        ByteClass.table[Int(byte)] & ByteClass.token != 0
    }
}
