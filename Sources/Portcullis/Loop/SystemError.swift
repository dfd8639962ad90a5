import Glibc

/// A failed system call, carrying its name and `errno` text.
public struct SystemError: Error, CustomStringConvertible {
    /// The call that failed, e.g. `"bind 127.0.0.1:8080"`.
    public let call: String
    /// The `errno` value at the time of failure.
    public let code: Int32

    public init(_ call: String, code: Int32 = errno) {
        self.call = call
        self.code = code
    }

    public var description: String {
        "\(call): \(String(cString: strerror(code)))"
    }
}
