/// A `[[rate_limits]]` rule on `/bytes/*` with a 1 h window (nothing ends it during a test),
/// as the tests' configurations write it.
func bytesRateLimitRule(name: String, limit: Int, mode: String, key: String = "header:X-Key") -> String {
    """
    [[rate_limits]]
    name = "\(name)"
    match = "/bytes/*"
    limit = \(limit)
    window = "1h"
    key = "\(key)"
    mode = "\(mode)"
    """
}
