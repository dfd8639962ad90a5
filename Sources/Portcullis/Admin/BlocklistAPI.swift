import Foundation

/// `GET /admin/blocklist` (paged), `POST /admin/blocklist`, `DELETE /admin/blocklist/{cidr}`.
/// A change is on disk (and handed to the workers) before it is acknowledged; a bad request
/// changes nothing and names the problem.
struct BlocklistAPI {
    unowned let gateway: Gateway

    static let prefix = "/admin/blocklist"

    func handle(_ request: AdminRequest) -> AdminResponse {
        let rest = request.path.dropFirst(Self.prefix.count)
        switch (request.method, rest.isEmpty) {
        case ("GET", true): return list(query: request.query)
        case ("POST", true): return add(body: request.body)
        case ("DELETE", false) where rest.hasPrefix("/"): return remove(String(rest.dropFirst()))
        default: return .error(405, "method_not_allowed", "use GET or POST on \(Self.prefix), DELETE on \(Self.prefix)/{cidr}")
        }
    }

    private func list(query: [String: String]) -> AdminResponse {
        let cursor = query["cursor"].flatMap(Int.init) ?? 0
        let limit = query["limit"].flatMap(Int.init) ?? 100
        guard cursor >= 0, (1...1000).contains(limit) else {
            return .error(400, "invalid_query", "cursor must be 0 or more and limit between 1 and 1000")
        }
        let page = gateway.blocklist.page(from: cursor, limit: limit)
        var body: [String: any Sendable] = ["entries": page.entries.map(Self.json), "total": gateway.blocklist.count]
        body["next_cursor"] = page.next.map { $0 as any Sendable } ?? NSNull()
        return .json(200, body)
    }

    private func add(body: [UInt8]) -> AdminResponse {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            return .error(400, "invalid_json", "the body must be a JSON object like {\"cidr\": \"203.0.113.0/24\", \"ttl_seconds\": 3600, \"reason\": \"…\"}")
        }
        let known: Set<String> = ["cidr", "ttl_seconds", "reason", "allow", "force"]
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            return .error(400, "unknown_field", "unknown field \"\(unknown)\" (known: cidr, ttl_seconds, reason, allow, force)")
        }
        guard let text = object["cidr"] as? String else { return .error(400, "missing_cidr", "\"cidr\" (a string) is required") }
        let cidr: CIDR
        switch CIDR.parse(text) {
        case .success(let parsed): cidr = parsed
        case .failure(let problem): return .error(400, "invalid_cidr", problem.description)
        }
        let forceValue = object["force"]
        guard forceValue == nil || forceValue.map(Self.isBoolean) == true else {
            return .error(400, "invalid_force", "\"force\" must be true or false")
        }
        let isAllow = object["allow"].flatMap { $0 as? Bool } ?? false
        if cidr.coversEverything && !isAllow && (forceValue as? Bool) != true {
            return .error(400, "blocks_everyone", "\(text) covers every address of its family and would cut off every client; send \"force\": true to mean it")
        }
        var expiresAt: UInt32 = 0
        if let ttl = object["ttl_seconds"] {
            guard let seconds = ttl as? Int, !Self.isBoolean(ttl), (1...315_360_000).contains(seconds) else {
                return .error(400, "invalid_ttl", "\"ttl_seconds\" must be an integer from 1 to 315360000 (omit it for no expiry)")
            }
            expiresAt = IPBlocklist.now() + UInt32(seconds)
        }
        let reason = object["reason"] as? String ?? ""
        guard object["reason"] == nil || object["reason"] is String, reason.count <= 256,
              !reason.unicodeScalars.contains(where: { $0.value < 0x20 || $0 == "#" }) else {
            return .error(400, "invalid_reason", "\"reason\" must be a string of at most 256 characters without control characters or \"#\"")
        }
        let allowValue = object["allow"]
        guard allowValue == nil || allowValue.map(Self.isBoolean) == true else {
            return .error(400, "invalid_allow", "\"allow\" must be true or false")
        }
        let entry = BlocklistEntry(cidr: cidr, allow: isAllow, expiresAt: expiresAt, reason: reason)
        do {
            try gateway.changeBlocklist(.add(entry))
        } catch {
            return .error(500, "not_saved", "the blocklist could not be written, nothing changed: \(error)")
        }
        return .json(201, Self.json(entry))
    }

    private func remove(_ encoded: String) -> AdminResponse {
        let text = encoded.removingPercentEncoding ?? encoded
        let cidr: CIDR
        switch CIDR.parse(text) {
        case .success(let parsed): cidr = parsed
        case .failure(let problem): return .error(400, "invalid_cidr", problem.description)
        }
        do {
            guard try gateway.changeBlocklist(.remove(cidr)) else {
                return .error(404, "not_found", "\(cidr) is not in the blocklist")
            }
        } catch {
            return .error(500, "not_saved", "the blocklist could not be written, nothing changed: \(error)")
        }
        return AdminResponse(status: 204, contentType: "application/json", body: "")
    }

    /// JSON `true`/`false` (Foundation hands numbers and booleans over as NSNumber alike).
    private static func isBoolean(_ value: Any) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return String(cString: number.objCType) == "c"
    }

    static func json(_ entry: BlocklistEntry) -> [String: any Sendable] {
        ["cidr": entry.cidr.description, "allow": entry.allow, "reason": entry.reason,
         "expires_at": entry.expiresAt == 0 ? NSNull() : UTCTime.rfc3339(Int64(entry.expiresAt))]
    }
}
