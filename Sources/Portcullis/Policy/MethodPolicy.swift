import Glibc

/// `[requests] allowed_methods`, compiled: a bit per method the parser knows, plus the
/// extension methods (`PURGE`, WebDAV's…) compared byte for byte. Case-sensitive (RFC 9110 §9.1).
struct MethodPolicy: Sendable {
    private let knownMethods: UInt16
    private let extensionMethods: [[UInt8]]

    init(allowed: [String]) {
        var known: UInt16 = 0
        var extensions: [[UInt8]] = []
        for name in allowed {
            let bytes = Array(name.utf8)
            let method = bytes.withUnsafeBufferPointer { HTTPMethod.classify($0.baseAddress!, $0.count) }
            if method == .other {
                extensions.append(bytes)
            } else {
                known |= 1 << method.rawValue
            }
        }
        knownMethods = known
        extensionMethods = extensions
    }

    /// True when the request's method (`method`, its bytes `name`) is served.
    func allows(_ method: HTTPMethod, name: UnsafeBufferPointer<UInt8>) -> Bool {
        if method != .other { return knownMethods & (1 << method.rawValue) != 0 }
        return extensionMethods.contains { $0.elementsEqual(name) }
    }
}
