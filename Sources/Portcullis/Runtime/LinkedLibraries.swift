import CDeflate
import CHiredis
import COpenSSL
import CZlib

/// Versions of the C libraries the gateway is linked with, for `portcullis version`.
public enum LinkedLibraries {
    /// The gateway's own version.
    public static let portcullisVersion = "0.1.0"

    /// One line per library: OpenSSL, hiredis, zlib, libdeflate.
    public static var summary: String {
        let openSSL = String(cString: OpenSSL_version(Int32(OPENSSL_VERSION)))
        let zlib = String(cString: zlibVersion())
        return """
        \(openSSL)
        hiredis \(HIREDIS_MAJOR).\(HIREDIS_MINOR).\(HIREDIS_PATCH)
        zlib \(zlib)
        libdeflate \(LIBDEFLATE_VERSION_STRING)
        """
    }
}
